"""Sessions end when the password they were opened with is replaced, when the browser
closes, after their lifetime, and after a while unused (a computer left logged in)."""

from __future__ import annotations

from idp.clock import clock
from idp.sms import latest_code
from tests.factories import make_citizen, make_client
from tests.security.conftest import authorize
from tests.support.browser import AuthorizationAttempt, code_from, query, submit


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
    assert expired.headers["Location"].startswith("/login/otp")
    sms_passed = submit(other_browser, other_browser.get("/login/otp"), "/login/otp",
                        otp=latest_code(sms_file))
    assert sms_passed.headers["Location"] == "/login/expired"
    form = other_browser.get("/login/expired")
    changed = submit(other_browser, form, "/login/expired", new_password="Otra-Clave-2028!",
                     new_password_confirm="Otra-Clave-2028!")
    assert "code=" in changed.headers["Location"]  # the login went on to the RP

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


def silent_login(browser, rp):  # type: ignore[no-untyped-def]
    """An RP asks with prompt=none: answered from the session, or login_required."""
    return AuthorizationAttempt(rp.client_id, rp.redirect_uri,
                                extra={"prompt": "none"}).start(browser)


def test_a_session_left_unused_past_the_idle_timeout_asks_for_a_login_again(app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    authorize(browser, sms_file, rp, person)
    clock.advance(seconds=app.config["IDP_SESSION_IDLE_TIMEOUT"] + 1)
    assert query(silent_login(browser, rp))["error"] == "login_required"


def test_a_session_in_use_outlives_the_idle_timeout_but_not_its_lifetime(app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    authorize(browser, sms_file, rp, person)
    idle, lifetime = app.config["IDP_SESSION_IDLE_TIMEOUT"], app.config["IDP_SESSION_TTL"]
    used_for = 0
    while used_for + idle - 60 < lifetime:  # back at the IdP every idle timeout less a minute
        clock.advance(seconds=idle - 60)
        used_for += idle - 60
        assert code_from(silent_login(browser, rp)), f"logged out after {used_for} s in use"
    clock.advance(seconds=lifetime - used_for + 1)
    assert query(silent_login(browser, rp))["error"] == "login_required"
