"""RP-initiated logout: a link carrying someone else's ID token must not end my session."""

from __future__ import annotations

from tests.factories import make_citizen, make_client
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
