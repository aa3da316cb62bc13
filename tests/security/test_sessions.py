"""Sessions end when the password they were opened with is replaced, when the browser
closes, after their lifetime, and after a while unused (a computer left logged in)."""

from __future__ import annotations

from idp.assurance import ACR_SUBSTANTIAL
from idp.clock import clock
from idp.sms import latest_code
from tests.factories import make_citizen, make_client
from tests.flows.support import refresh
from tests.oidc.test_code_flow import id_token_claims, redeem
from tests.security.conftest import authorize, tokens_for
from tests.support.browser import AuthorizationAttempt, code_from, consent, is_login_sms_page, query, submit


def test_changing_an_expired_password_ends_the_sessions_opened_with_it(app, browser,
                                                                        other_browser, sms_file):
    person = make_citizen()
    rp = make_client()
    clock.advance(days=730, minutes=-1)
    authorize(browser, sms_file, rp, person)  # a session opened with the old password
    clock.advance(minutes=2)  # the password expires; that session has hours left

    page = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(other_browser)
    expired = submit(other_browser, page, "/login", document=person.document,
                     password=person.password)
    assert is_login_sms_page(expired)
    sms_passed = submit(other_browser, expired, "/login/otp", otp=latest_code(sms_file))
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
    page = attempt.start(browser)
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


def _step_up(browser, sms_file, rp) -> dict:  # type: ignore[no-untyped-def]
    """From a password-only session, the SMS code an RP at substantial level asks for."""
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    confirm = browser.get(attempt.start(browser).headers["Location"])
    page = submit(browser, confirm, "/login/step-up")  # answers the SMS-code page
    answer = submit(browser, page, "/login/otp", otp=latest_code(sms_file))
    if "/consent" in answer.headers["Location"]:
        answer = consent(browser, answer)
    return redeem(browser, rp, attempt, code_from(answer)).get_json()


def test_a_step_up_for_one_rp_keeps_the_session_and_the_tokens_of_another(app, browser, sms_file):
    person = make_citizen()
    low, high = make_client(), make_client(default_acr=ACR_SUBSTANTIAL)
    before = tokens_for(browser, sms_file, low, person)
    _step_up(browser, sms_file, high)
    again = tokens_for(browser, sms_file, low, person)  # single sign-on, nothing asked
    assert id_token_claims(browser, again["id_token"])["sid"] == id_token_claims(
        browser, before["id_token"])["sid"]
    assert refresh(browser, low, before["refresh_token"]).status_code == 200


def test_after_a_step_up_logout_revokes_the_tokens_issued_before_it(app, browser, sms_file):
    person = make_citizen()
    low, high = make_client(), make_client(default_acr=ACR_SUBSTANTIAL)
    before = tokens_for(browser, sms_file, low, person)
    after = _step_up(browser, sms_file, high)
    browser.get("/logout", query_string={"id_token_hint": after["id_token"]})
    assert refresh(browser, low, before["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_another_citizen_logging_in_on_the_browser_ends_the_previous_citizens_session_and_tokens(
        app, browser, sms_file):
    rp = make_client()
    first, second = make_citizen(), make_citizen()
    left_behind = tokens_for(browser, sms_file, rp, first)  # a shared computer
    tokens_for(browser, sms_file, rp, second, prompt="login")
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {left_behind['access_token']}"})
    assert info.status_code == 401
    assert refresh(browser, rp, left_behind["refresh_token"]).get_json()["error"] == "invalid_grant"
