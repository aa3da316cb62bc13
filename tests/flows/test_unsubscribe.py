"""Unsubscribe: DNI/NIE + password → SMS code → confirmation; and coming back."""

from __future__ import annotations

import re

import pytest

from idp import citizens
from idp.audit import EventTag
from idp.documents import parse_document
from idp.extensions import db
from idp.mobile.models import Device
from idp.models import AuditEvent, CitizenStatus, Consent, LoginSession
from idp.oidc.models import Token
from tests.factories import make_citizen, make_client, new_dni
from tests.flows.support import choose_password, fill, pass_sms, refresh, tokens_for, wrong_code
from tests.support.browser import is_sms_page, log_in_to_account, shows_message, submit

START, OTP, CONFIRM = "/unsubscribe", "/unsubscribe/otp", "/unsubscribe/confirm"


@pytest.fixture
def other_browser(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def reach_confirmation(browser, sms_file, person):  # type: ignore[no-untyped-def]
    started = fill(browser, START, document=person.document, password=person.password)
    assert is_sms_page(started, OTP)
    assert pass_sms(browser, OTP, sms_file).headers["Location"] == CONFIRM


def unsubscribe(browser, sms_file, person):  # type: ignore[no-untyped-def]
    reach_confirmation(browser, sms_file, person)
    done = fill(browser, CONFIRM)
    assert done.status_code == 200 and shows_message(done, "unsubscribed")
    db.session.refresh(person.citizen)


def login_section(response) -> str:  # type: ignore[no-untyped-def]
    """The Permanent Cl@ve part of the login page, without typed values or the CSRF token."""
    html = response.get_data(as_text=True)
    section = re.search(r'<section id="permanent".*?</section>', html, re.S).group(0)
    return re.sub(r'value="[^"]*"', 'value=""', section)


def test_citizen_unsubscribes_after_password_sms_code_and_confirmation(app, browser, sms_file):
    person = make_citizen()
    unsubscribe(browser, sms_file, person)
    assert person.citizen.status == CitizenStatus.UNSUBSCRIBED
    assert person.citizen.password_hash is None and person.citizen.activation_code_hash is None
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.UNSUBSCRIBED))


def test_nothing_changes_until_the_citizen_confirms(app, browser, sms_file):
    person = make_citizen()
    reach_confirmation(browser, sms_file, person)
    page = browser.get(CONFIRM)
    assert page.status_code == 200 and person.document in page.get_data(as_text=True)
    without_token = browser.post(CONFIRM)
    assert without_token.status_code == 400 and shows_message(without_token, "csrf_failed")
    db.session.refresh(person.citizen)
    assert person.citizen.status == CitizenStatus.ACTIVE


def test_after_unsubscribing_login_fails_exactly_like_an_unknown_document(app, browser, sms_file):
    person = make_citizen()
    unsubscribe(browser, sms_file, person)
    gone = fill(browser, "/login", document=person.document, password=person.password)
    unknown = fill(browser, "/login", document=new_dni(), password=person.password)
    assert gone.status_code == unknown.status_code == 401
    assert login_section(gone) == login_section(unknown)
    failures = db.session.scalars(db.select(AuditEvent).filter_by(tag=EventTag.LOGIN_FAILED)).all()
    assert [event.citizen_id for event in failures] == [None, None]


def test_after_unsubscribing_refresh_and_access_tokens_no_longer_work(
        app, browser, other_browser, sms_file):
    person = make_citizen()
    rp = make_client()
    tokens = tokens_for(other_browser, sms_file, rp, person)

    unsubscribe(browser, sms_file, person)

    assert refresh(other_browser, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    userinfo = other_browser.get("/userinfo",
                                 headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    # Revoked with the sessions they were issued in, not only refused for an inactive Cl@ve.
    assert db.session.scalars(db.select(Token).filter_by(citizen_id=person.citizen.id,
                                                         revoked_at=None)).all() == []


def test_unsubscribing_ends_every_session_and_forgets_consents_and_devices(
        app, browser, other_browser, sms_file):
    person = make_citizen()
    tokens_for(other_browser, sms_file, make_client(), person)
    db.session.add(Device(id="phone-1", citizen_id=person.citizen.id, name="Móvil",
                          public_jwk={"kty": "EC"}))
    db.session.commit()
    fill(browser, "/login", document=person.document, password=person.password)

    unsubscribe(browser, sms_file, person)

    open_sessions = db.session.scalars(db.select(LoginSession).filter_by(
        citizen_id=person.citizen.id, ended_at=None)).all()
    assert open_sessions == []
    assert db.session.scalars(db.select(Consent).filter_by(citizen_id=person.citizen.id)).all() == []
    assert db.session.get(Device, "phone-1").revoked_at is not None
    assert other_browser.get("/account").status_code == 302
    assert browser.get("/account").status_code == 302


def test_more_than_three_wrong_sms_codes_send_the_citizen_back_to_the_start(app, browser, sms_file):
    person = make_citizen()
    fill(browser, START, document=person.document, password=person.password)
    bad = wrong_code(sms_file)
    page = browser.get(OTP)
    for _ in range(3):
        page = submit(browser, page, OTP, otp=bad)
        assert page.status_code == 400
    restarted = submit(browser, page, OTP, otp=bad)
    assert restarted.status_code == 302
    start_page = browser.get(restarted.headers["Location"])
    assert shows_message(start_page, "unsubscribe_restarted")
    assert browser.get(OTP).status_code == 400  # that attempt is over
    db.session.refresh(person.citizen)
    assert person.citizen.status == CitizenStatus.ACTIVE


def test_a_wrong_password_counts_towards_the_block_with_the_login_answer(app, browser):
    person = make_citizen()
    refused = fill(browser, START, document=person.document, password="Mala-Clave-99")
    assert refused.status_code == 401 and shows_message(refused, "login_failed")
    db.session.refresh(person.citizen)
    assert person.citizen.password_failures == 1


def test_malformed_document_is_refused_with_a_clear_message(app, browser):
    refused = fill(browser, START, document="123", password="x")
    assert refused.status_code == 400 and shows_message(refused, "document_format")


def test_a_new_registration_act_brings_an_unsubscribed_citizen_back(app, browser, sms_file):
    person = make_citizen()
    unsubscribe(browser, sms_file, person)

    again = citizens.register(parse_document(person.document), given_name="Lucía",
                              first_surname="Martín", second_surname="Ortega",
                              email="lucia@example.org", phone="+34600111222",
                              contrast_data="01012031")
    db.session.commit()
    started = fill(browser, "/activate", document=person.document, email="lucia@example.org",
                   activation_code=again.activation_code)
    assert is_sms_page(started, "/activate/otp")
    pass_sms(browser, "/activate/otp", sms_file)
    assert choose_password(browser, "/activate/password", "Vuelvo-A-Clave-2027!").status_code == 200

    log_in_to_account(browser, person.document, "Vuelvo-A-Clave-2027!", sms_file)
