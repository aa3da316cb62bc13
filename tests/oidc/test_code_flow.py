"""The authorization code flow from request to UserInfo, through the real forms."""

from __future__ import annotations

import base64

from joserfc import jwt
from joserfc.jwk import KeySet

from idp.assurance import ACR_LOW, ACR_SUBSTANTIAL
from tests.factories import make_citizen, make_client
from tests.support.browser import AuthorizationAttempt, asks_to_log_in, code_from, consent, log_in, query


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def redeem(browser, rp, attempt: AuthorizationAttempt, code: str):  # type: ignore[no-untyped-def]
    return browser.post("/token", headers=basic(rp.client_id, rp.secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": attempt.redirect_uri,
        "code_verifier": attempt.verifier})


def id_token_claims(browser, token: str) -> dict:  # type: ignore[no-untyped-def]
    keys = KeySet.import_key_set(browser.get("/jwks.json").get_json())
    return jwt.decode(token, keys, algorithms=["RS256", "ES256"]).claims


def full_login(browser, sms_file, rp, person, attempt):  # type: ignore[no-untyped-def]
    response = log_in(browser, attempt.start(browser), person.document, person.password, sms_file)
    return code_from(consent(browser, response))


def test_citizen_logs_in_and_rp_receives_tokens_with_requested_claims(app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope="openid profile national_id")

    code = full_login(browser, sms_file, rp, person, attempt)
    tokens = redeem(browser, rp, attempt, code)

    assert tokens.status_code == 200, tokens.get_json()
    assert tokens.headers["Cache-Control"] == "no-store"
    body = tokens.get_json()
    claims = id_token_claims(browser, body["id_token"])
    assert claims["aud"] == rp.client_id
    assert claims["nonce"] == attempt.nonce
    assert claims["acr"] == ACR_LOW and claims["amr"] == ["pwd"]
    assert {"auth_time", "sid", "at_hash", "iss", "exp", "iat"} <= claims.keys()
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.get_json()["sub"] == claims["sub"]
    assert info.get_json()["document_number"] == person.document
    assert info.get_json()["person_identifier"] == f"ES/ES/{person.document}"
    assert info.get_json()["first_surname"] == "Martín"
    assert info.get_json()["second_surname"] == "Ortega"
    assert "email" not in info.get_json()


def test_substantial_acr_adds_the_sms_step_and_is_reported_in_the_id_token(app, browser, sms_file):
    person = make_citizen()
    rp = make_client(default_acr=ACR_SUBSTANTIAL)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)

    code = full_login(browser, sms_file, rp, person, attempt)
    claims = id_token_claims(browser, redeem(browser, rp, attempt, code).get_json()["id_token"])

    assert claims["acr"] == ACR_SUBSTANTIAL
    assert set(claims["amr"]) == {"pwd", "sms", "mfa"}


def test_authorization_response_carries_state_and_issuer(app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    response = consent(browser, log_in(browser, attempt.start(browser), person.document,
                                       person.password, sms_file))
    params = query(response)
    assert params["state"] == attempt.state
    assert params["iss"] == app.config["IDP_ISSUER"]
    assert response.headers["Location"].startswith(rp.redirect_uri + "?")


def test_consent_is_remembered_so_a_second_login_skips_it(app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    full_login(browser, sms_file, rp, person, AuthorizationAttempt(rp.client_id, rp.redirect_uri))

    again = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)

    assert again.status_code == 302
    assert "code" in query(again)


def test_pairwise_subjects_differ_between_clients_of_different_sectors(app, browser, sms_file):
    person = make_citizen()
    first = make_client(redirect_uris=["https://one.example/cb"])
    second = make_client(redirect_uris=["https://two.example/cb"])
    subs = []
    for rp in (first, second):
        attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
        response = attempt.start(browser)
        if asks_to_log_in(response):
            response = log_in(browser, response, person.document, person.password, sms_file)
        code = code_from(consent(browser, response))
        token = redeem(browser, rp, attempt, code).get_json()["id_token"]
        subs.append(id_token_claims(browser, token)["sub"])
    assert subs[0] != subs[1]


def test_two_clients_of_different_sectors_see_different_sids_for_one_session(app, browser, sms_file):
    from idp.extensions import db
    from idp.models import LoginSession

    person = make_citizen()
    sids = []
    for host in ("one.example", "two.example"):
        rp = make_client(redirect_uris=[f"https://{host}/cb"])
        attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
        response = attempt.start(browser)
        if asks_to_log_in(response):
            response = log_in(browser, response, person.document, person.password, sms_file)
        token = redeem(browser, rp, attempt, code_from(consent(browser, response))).get_json()["id_token"]
        sids.append(id_token_claims(browser, token)["sid"])
    (session_id,) = db.session.scalars(db.select(LoginSession.id)).all()  # one session
    assert sids[0] != sids[1] and session_id not in sids


def test_an_rp_sees_one_sid_for_every_id_token_of_a_session(app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    first = redeem(browser, rp, attempt, full_login(browser, sms_file, rp, person, attempt)).get_json()
    again = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    second = redeem(browser, rp, again, code_from(again.start(browser))).get_json()
    refreshed = browser.post("/token", headers=basic(rp.client_id, rp.secret), data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).get_json()
    sids = {id_token_claims(browser, tokens["id_token"])["sid"] for tokens in (first, second, refreshed)}
    assert len(sids) == 1


def test_form_post_response_mode_returns_an_auto_submitting_form_without_inline_script(
        app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"response_mode": "form_post"})
    response = consent(browser, log_in(browser, attempt.start(browser), person.document,
                                       person.password, sms_file))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'action="{rp.redirect_uri}"' in html
    assert 'name="code"' in html and 'name="iss"' in html and attempt.state in html
    assert "<script>" not in html and "onload" not in html
