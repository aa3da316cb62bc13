"""Sessions end when the password they were opened with is replaced."""

from __future__ import annotations

from idp.clock import clock
from tests.factories import make_citizen, make_client
from tests.security.conftest import authorize
from tests.support.browser import AuthorizationAttempt, query, submit


def test_changing_an_expired_password_ends_the_sessions_opened_with_it(app, browser,
                                                                        other_browser, sms_file):
    person = make_citizen()
    rp = make_client()
    clock.advance(days=730, minutes=-1)
    authorize(browser, sms_file, rp, person)  # a session opened with the old password
    clock.advance(minutes=2)  # the password expires; that session has hours left

    page = other_browser.get(AuthorizationAttempt(rp.client_id, rp.redirect_uri)
                             .start(other_browser).headers["Location"])
    expired = submit(other_browser, page, "/login", document=person.document,
                     password=person.password)
    assert expired.headers["Location"].endswith("/login/expired")
    form = other_browser.get("/login/expired")
    changed = submit(other_browser, form, "/login/expired", new_password="Otra-Clave-2028!",
                     new_password_confirm="Otra-Clave-2028!")
    assert changed.status_code == 302

    silent = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "none"})
    assert query(silent.start(browser))["error"] == "login_required"


def test_the_login_cookie_ends_with_the_browser_and_the_server_ends_the_session_in_time(
        app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    page = browser.get(attempt.start(browser).headers["Location"])
    logged_in = submit(browser, page, "/login", document=person.document, password=person.password)

    cookie = logged_in.headers["Set-Cookie"].lower()
    assert "idp_session=" in cookie and "expires=" not in cookie and "max-age" not in cookie

    clock.advance(seconds=app.config["IDP_SESSION_TTL"] + 1)  # the browser stayed open
    silent = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "none"})
    assert query(silent.start(browser))["error"] == "login_required"
