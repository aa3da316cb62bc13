"""RP-initiated logout: a link carrying someone else's ID token must not end my session."""

from __future__ import annotations

import threading

import pytest
from flask import current_app
from sqlalchemy import event

from idp.clock import clock
from idp.extensions import db
from idp.models import LoginSession
from idp.oidc.models import Token
from idp.sessions import close_session
from idp.unit_of_work import transaction
from tests.factories import make_citizen, make_client
from tests.flows.support import refresh
from tests.oidc.test_code_flow import redeem
from tests.security.conftest import authorize, tokens_for
from tests.support.browser import AuthorizationAttempt, query, submit


def _still_logged_in(browser, rp) -> bool:  # type: ignore[no-untyped-def]
    silent = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "none"}).start(browser)
    return "code" in query(silent)


def test_id_token_hint_of_another_session_asks_before_logging_out(app, browser, other_browser,
                                                                   sms_file):
    rp = make_client()
    attacker, victim = make_citizen(), make_citizen()
    attackers_hint = tokens_for(other_browser, sms_file, rp, attacker)["id_token"]
    authorize(browser, sms_file, rp, victim)

    page = browser.get("/logout", query_string={
        "id_token_hint": attackers_hint, "post_logout_redirect_uri": "https://rp.example/bye"})

    assert page.status_code == 200 and "Location" not in page.headers
    assert 'name="confirm"' in page.get_data(as_text=True)
    assert _still_logged_in(browser, rp)


def test_confirming_a_logout_with_another_sessions_hint_logs_out(app, browser, other_browser,
                                                                 sms_file):
    rp = make_client()
    attacker, victim = make_citizen(), make_citizen()
    attackers_hint = tokens_for(other_browser, sms_file, rp, attacker)["id_token"]
    authorize(browser, sms_file, rp, victim)
    fields = {"id_token_hint": attackers_hint, "post_logout_redirect_uri": "https://rp.example/bye"}
    page = browser.get("/logout", query_string=fields)

    confirmed = submit(browser, page, "/logout", confirm="yes", **fields)

    assert confirmed.headers["Location"] == "https://rp.example/bye"
    assert not _still_logged_in(browser, rp)


def test_id_token_hint_of_this_session_still_logs_out_without_asking(app, browser, sms_file):
    rp = make_client()
    hint = tokens_for(browser, sms_file, rp, make_citizen())["id_token"]
    response = browser.get("/logout", query_string={"id_token_hint": hint})
    assert response.status_code == 200 and 'name="confirm"' not in response.get_data(as_text=True)
    assert not _still_logged_in(browser, rp)


def test_logout_naming_one_client_with_another_clients_hint_is_refused(app, browser, sms_file):
    a = make_client(redirect_uris=["https://a.example/cb"])
    b = make_client(redirect_uris=["https://b.example/cb"])
    hint = tokens_for(browser, sms_file, b, make_citizen())["id_token"]
    response = browser.get("/logout", query_string={
        "id_token_hint": hint, "client_id": a.client_id,
        "post_logout_redirect_uri": "https://rp.example/bye"})
    assert response.status_code == 400 and "Location" not in response.headers
    assert _still_logged_in(browser, b)


def _alive(browser, rp, tokens) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(UserInfo status with the access token, token endpoint status with the refresh token)."""
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    return info.status_code, refresh(browser, rp, tokens["refresh_token"]).status_code


def test_after_logout_the_sessions_access_token_gets_401_and_its_refresh_token_is_refused(
        app, browser, sms_file):
    rp = make_client()
    tokens = tokens_for(browser, sms_file, rp, make_citizen())
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert _alive(browser, rp, tokens) == (401, 400)
    assert refresh(browser, rp, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_logging_out_from_the_idp_home_page_revokes_the_sessions_tokens(app, browser, sms_file):
    rp = make_client()
    tokens = tokens_for(browser, sms_file, rp, make_citizen())
    submit(browser, browser.get("/"), "/session/end")
    assert _alive(browser, rp, tokens) == (401, 400)


def test_confirming_a_logout_with_another_sessions_hint_revokes_this_sessions_tokens(
        app, browser, other_browser, sms_file):
    rp = make_client()
    attackers_hint = tokens_for(other_browser, sms_file, rp, make_citizen())["id_token"]
    mine = tokens_for(browser, sms_file, rp, make_citizen())
    page = browser.get("/logout", query_string={"id_token_hint": attackers_hint})
    submit(browser, page, "/logout", confirm="yes", id_token_hint=attackers_hint)
    assert _alive(browser, rp, mine) == (401, 400)


def test_a_code_redeemed_after_the_logout_of_its_session_yields_no_tokens(app, browser, sms_file):
    rp = make_client()
    person = make_citizen()
    hint = tokens_for(browser, sms_file, rp, person)["id_token"]
    attempt, code = authorize(browser, sms_file, rp, person)  # a second code, same session
    browser.get("/logout", query_string={"id_token_hint": hint})
    late = redeem(browser, rp, attempt, code)
    assert late.status_code == 400 and late.get_json()["error"] == "invalid_grant"


def _log_out_elsewhere(twin, started: threading.Event, failures: list) -> None:  # type: ignore[no-untyped-def]
    """A logout of the one session, on another connection, as another process would."""
    try:
        with twin.app_context(), transaction():
            login_session = db.session.scalar(db.select(LoginSession))
            started.set()
            close_session(login_session)
    except Exception as error:  # noqa: BLE001 - shown by the test
        failures.append(error)
        started.set()


@pytest.mark.parametrize("grant", ["authorization_code", "refresh_token"])
def test_a_logout_begun_while_tokens_are_being_issued_leaves_none_of_them_alive(
        app, browser, sms_file, grant):
    """The logout starts once the token endpoint has claimed the code or refresh token (its
    statement has run, in front of Flask or in the route): it waits for the new tokens (the
    claim holds the session's row) and then revokes them, or it ends the session first and
    nothing is issued."""
    rp = make_client()
    person = make_citizen()
    issued = tokens_for(browser, sms_file, rp, person)
    attempt, code = authorize(browser, sms_file, rp, person)
    twin, started, failures = current_app._get_current_object(), threading.Event(), []
    logout = threading.Thread(target=_log_out_elsewhere, args=(twin, started, failures))
    claim = {"authorization_code": "UPDATE authorization_codes SET used_at",
             "refresh_token": "UPDATE tokens SET refresh_used_at"}[grant]

    def log_out_after_the_claim(conn, cursor, statement: str, *_: object) -> None:  # type: ignore[no-untyped-def]
        if claim in statement and logout.ident is None:
            logout.start()
            started.wait(timeout=30)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", log_out_after_the_claim)
    try:
        if grant == "refresh_token":
            answer = refresh(browser, rp, issued["refresh_token"])
        else:
            answer = redeem(browser, rp, attempt, code)
        logout.join(timeout=60)
    finally:
        event.remove(engine, "after_cursor_execute", log_out_after_the_claim)

    assert not failures and not logout.is_alive()
    assert answer.status_code in (200, 400), answer.get_json()
    assert db.session.scalar(db.select(Token).filter_by(revoked_at=None)) is None
    if answer.status_code == 200:
        minted = answer.get_json()["access_token"]
        assert browser.get("/userinfo", headers={"Authorization": f"Bearer {minted}"}).status_code == 401


def test_logout_after_the_idle_timeout_still_revokes_the_sessions_tokens(app, browser, sms_file):
    rp = make_client()
    tokens = tokens_for(browser, sms_file, rp, make_citizen())
    clock.advance(seconds=app.config["IDP_SESSION_IDLE_TIMEOUT"] + 1)  # the citizen stayed at the RP
    fresh = refresh(browser, rp, tokens["refresh_token"])
    assert fresh.status_code == 200  # the RP's tokens outlive the idle IdP session
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert _alive(browser, rp, fresh.get_json()) == (401, 400)


@pytest.mark.parametrize("hinting", [0, 1])
def test_logout_with_either_clients_id_token_hint_ends_the_session_without_asking(
        app, browser, sms_file, hinting):
    rps = [make_client(redirect_uris=["https://one.example/cb"]),
           make_client(redirect_uris=["https://two.example/cb"])]
    person = make_citizen()
    issued = [tokens_for(browser, sms_file, rp, person) for rp in rps]
    response = browser.get("/logout", query_string={"id_token_hint": issued[hinting]["id_token"]})
    assert response.status_code == 200 and 'name="confirm"' not in response.get_data(as_text=True)
    assert not _still_logged_in(browser, rps[0])
    assert [_alive(browser, rp, tokens) for rp, tokens in zip(rps, issued, strict=True)] == [(401, 400)] * 2
