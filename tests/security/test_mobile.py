"""Cl@ve mobile from an attacker's side: enrollment, malformed bodies, what the app shows."""

from __future__ import annotations

from idp.extensions import db
from idp.mobile.models import Device
from tests.factories import make_citizen, make_client
from tests.mobile.support import API, enroll, loaded, qr_challenge_id, signed_get
from tests.support.browser import AuthorizationAttempt


def test_enrollment_with_an_expired_password_is_refused_until_it_is_changed(app, browser, sms_file):
    from idp.clock import clock

    person = make_citizen()
    clock.advance(days=731)
    response = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                        "password": person.password})
    assert response.status_code == 403 and response.get_json()["error"] == "password_expired"
    assert not sms_file.exists() or "código" not in sms_file.read_text()
    assert db.session.scalar(db.select(db.func.count()).select_from(Device)) == 0


def test_deeply_nested_json_is_a_client_error_not_a_crash(app, browser):
    body = "[" * 20000 + "]" * 20000
    response = browser.post(f"{API}/enrollments", data=body, content_type="application/json")
    assert response.status_code == 400


def test_challenge_details_carry_no_control_or_bidi_characters_from_the_browser(
        app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    rp = make_client()
    sneaky = "Firefox\x1b[2K\x1b[1A\x07\x9b1A\u202eMadrid\u200b on Windows"
    browser.environ_base["HTTP_USER_AGENT"] = sneaky  # on every request, as browsers do
    page = loaded(browser, AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser))

    details = signed_get(browser, device, f"{API}/challenges/{qr_challenge_id(page)}").get_json()

    assert details["origin"]["user_agent"] == "Firefox[2K[1A1AMadrid on Windows"


def test_mobile_api_answers_are_never_cached(app, browser, sms_file):
    person = make_citizen()
    started = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                       "password": person.password})
    assert started.status_code == 201 and started.headers["Cache-Control"] == "no-store"
    assert browser.get("/.well-known/openid-configuration").headers["Cache-Control"] != "no-store"
