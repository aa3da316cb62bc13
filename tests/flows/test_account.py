"""The account page: registered data, open sessions (each can be ended), recent activity."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.assurance import ACR_LOW
from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.messages import EVENT_LABELS, event_label
from idp.models import AuditEvent, LoginSession
from idp.user_agents import describe_device
from tests.factories import make_citizen, make_client
from tests.flows.support import fill, refresh, tokens_for
from tests.support.browser import is_login_sms_page, log_in_to_account, shows_message, submit

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_ON_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                     "Chrome/126.0.0.0 Mobile Safari/537.36")


@pytest.fixture
def other_browser(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def log_in(browser, person, user_agent: str = FIREFOX_ON_WINDOWS):  # type: ignore[no-untyped-def]
    """Log in on the IdP's own page (password + SMS code) and open the account page."""
    browser.environ_base["HTTP_USER_AGENT"] = user_agent
    clock.advance(seconds=31)  # another SMS code for the same citizen may be sent after 30 s
    log_in_to_account(browser, person.document, person.password, sms_path(browser))
    return browser.get("/account")


def sms_path(browser) -> Path:  # type: ignore[no-untyped-def]
    return Path(browser.application.config["IDP_SMS_BACKEND"].removeprefix("file:"))


def sessions_of(person) -> list[LoginSession]:  # type: ignore[no-untyped-def]
    return db.session.scalars(db.select(LoginSession).filter_by(citizen_id=person.citizen.id)
                              .order_by(LoginSession.created_at)).all()


def test_without_a_session_the_account_page_sends_to_the_login(app, browser):
    response = browser.get("/account")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_a_login_without_relying_party_asks_for_the_sms_code_before_the_account(app, browser):
    person = make_citizen()
    after_password = fill(browser, "/login", document=person.document, password=person.password)
    assert is_login_sms_page(after_password)
    assert browser.get("/account").status_code == 302


def test_a_password_only_session_does_not_open_the_account_page(app, browser, sms_file):
    person = make_citizen()
    rp = make_client(default_acr=ACR_LOW)
    tokens_for(browser, sms_file, rp, person)  # password alone: the RP asked for low
    assert db.session.scalar(db.select(LoginSession.acr).filter_by(citizen_id=person.citizen.id)) == ACR_LOW
    response = browser.get("/account")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_the_account_shows_the_data_as_registered_with_the_phone_masked(app, browser):
    person = make_citizen(phone="+34600111222", email="lucia@example.org")
    html = log_in(browser, person).get_data(as_text=True)
    for shown in ("Lucía", "Martín Ortega", person.document, "lucia@example.org", "222"):
        assert shown in html
    assert "+34600111222" not in html and "600111" not in html


def test_the_account_lists_every_open_session_with_device_and_address(app, browser, other_browser):
    person = make_citizen()
    log_in(other_browser, person, CHROME_ON_ANDROID)
    html = log_in(browser, person).get_data(as_text=True)
    assert "Firefox · Windows" in html and "Chrome · Android" in html
    assert html.count('name="sid"') == 2
    assert "127.0.0.1" in html


def test_ending_another_session_logs_that_browser_out_and_revokes_its_tokens(
        app, browser, other_browser, sms_file):
    person = make_citizen()
    rp = make_client()
    tokens = tokens_for(other_browser, sms_file, rp, person)
    page = log_in(browser, person)
    elsewhere = sessions_of(person)[0]

    ended = submit(browser, page, "/account/sessions/end", sid=elsewhere.id)

    assert ended.status_code == 302
    assert shows_message(browser.get(ended.headers["Location"]), "session_ended")
    assert other_browser.get("/account").status_code == 302
    assert browser.get("/account").status_code == 200
    assert refresh(other_browser, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.SESSION_ENDED))


def test_ending_this_session_logs_this_browser_out(app, browser):
    person = make_citizen()
    page = log_in(browser, person)
    mine = sessions_of(person)[0]
    assert submit(browser, page, "/account/sessions/end", sid=mine.id).status_code == 200
    assert browser.get("/account").status_code == 302


def test_a_session_of_another_citizen_cannot_be_ended(app, browser, other_browser):
    victim = make_citizen()
    log_in(other_browser, victim)
    page = log_in(browser, make_citizen())
    refused = submit(browser, page, "/account/sessions/end", sid=sessions_of(victim)[0].id)
    assert refused.status_code == 404
    assert other_browser.get("/account").status_code == 200


def test_ending_a_session_without_csrf_token_is_refused(app, browser, other_browser):
    person = make_citizen()
    log_in(other_browser, person)
    log_in(browser, person)
    refused = browser.post("/account/sessions/end", data={"sid": sessions_of(person)[0].id})
    assert refused.status_code == 400
    assert other_browser.get("/account").status_code == 200


def test_recent_activity_is_listed_with_translated_labels(app, browser):
    person = make_citizen()
    fill(browser, "/login", document=person.document, password="Mala-Clave-99")
    page = log_in(browser, person)
    html = page.get_data(as_text=True)
    for tag in (EventTag.LOGIN_FAILED, EventTag.LOGIN_SUCCEEDED, EventTag.REGISTRATION):
        assert event_label(tag) in html
    assert "token_issued" not in html


def test_every_activity_label_belongs_to_an_audit_tag():
    assert set(EVENT_LABELS) <= {tag.value for tag in EventTag}


@pytest.mark.parametrize(("agent", "expected"), [
    (FIREFOX_ON_WINDOWS, ("Firefox", "Windows")),
    (CHROME_ON_ANDROID, ("Chrome", "Android")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", ("Edge", "Windows")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.5 Mobile/15E148 Safari/604.1", ("Safari", "iOS")),
    ("curl/8.0", (None, None)),
    (None, (None, None)),
])
def test_devices_are_named_as_citizens_know_them(agent, expected):
    assert describe_device(agent) == expected
