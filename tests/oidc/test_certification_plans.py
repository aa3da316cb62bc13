"""Behaviours mirroring the OpenID Foundation's OP certification plans
(Basic, Config, Form Post, RP-Initiated Logout)."""

from __future__ import annotations

import json

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from idp.assurance import ACR_LOW, ACR_SUBSTANTIAL
from idp.clock import clock
from tests.factories import make_citizen, make_client
from tests.oidc.test_code_flow import basic, id_token_claims, redeem
from tests.support.browser import (
    AuthorizationAttempt,
    asks_to_log_in,
    code_from,
    consent,
    is_login_sms_page,
    log_in,
    query,
    submit,
)


@pytest.fixture
def rp(app):  # type: ignore[no-untyped-def]
    return make_client()


@pytest.fixture
def person(app):  # type: ignore[no-untyped-def]
    return make_citizen()


def logged_in_code(browser, sms_file, rp, person, **extra):  # type: ignore[no-untyped-def]
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra=extra)
    response = attempt.start(browser)
    if asks_to_log_in(response):
        response = log_in(browser, response, person.document, person.password, sms_file)
    if "/consent" in response.headers.get("Location", ""):
        response = consent(browser, response)
    return attempt, code_from(response)


# -- Config ---------------------------------------------------------------------------------

def test_oidcc_discovery_document_describes_the_provider(app, browser):
    document = browser.get("/.well-known/openid-configuration").get_json()
    assert document["issuer"] == app.config["IDP_ISSUER"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "pairwise" in document["subject_types_supported"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["request_parameter_supported"] is False
    assert set(document["acr_values_supported"]) == {ACR_LOW, ACR_SUBSTANTIAL}


def test_discovery_names_each_supported_value_once(app, browser):
    document = browser.get("/.well-known/openid-configuration").get_json()
    repeated = {field: sorted({v for v in values if values.count(v) > 1})
                for field, values in document.items() if isinstance(values, list)}
    assert {field: values for field, values in repeated.items() if values} == {}
    assert "sub" in document["claims_supported"]


def test_jwks_keys_all_carry_a_kid_and_no_private_part(app, browser):
    keys = browser.get("/jwks.json").get_json()["keys"]
    assert keys and all("kid" in k and "d" not in k for k in keys)


# -- Basic -------------------------------------------------------------------------------------

def test_oidcc_codereuse_fails_and_revokes_the_tokens_from_the_first_use(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    first = redeem(browser, rp, attempt, code).get_json()
    second = redeem(browser, rp, attempt, code)
    assert second.status_code == 400 and second.get_json()["error"] == "invalid_grant"
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert info.status_code == 401
    refreshed = browser.post("/token", headers=basic(rp.client_id, rp.secret), data={
        "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 400


def test_oidcc_ensure_registered_redirect_uri_shows_an_error_page_and_never_redirects(app, browser, rp):
    attempt = AuthorizationAttempt(rp.client_id, "https://evil.example/cb")
    response = attempt.start(browser)
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_redirect_uri_with_added_query_string_does_not_match(app, browser, rp):
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri + "?x=1").start(browser)
    assert response.status_code == 400 and "Location" not in response.headers


def test_unknown_client_is_an_error_page_at_the_idp(app, browser):
    response = AuthorizationAttempt("no-such-client", "https://rp.example/cb").start(browser)
    assert response.status_code == 400 and "Location" not in response.headers


def test_oidcc_prompt_none_not_logged_in_returns_login_required(app, browser, rp):
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "none"}).start(browser)
    params = query(response)
    assert params["error"] == "login_required" and "state" in params and "iss" in params


def test_oidcc_prompt_none_logged_in_returns_a_code_silently(app, browser, sms_file, rp, person):
    logged_in_code(browser, sms_file, rp, person)
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "none"}).start(browser)
    assert "code" in query(response)


def test_oidcc_prompt_login_forces_a_new_authentication(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    first = id_token_claims(browser, redeem(browser, rp, attempt, code).get_json()["id_token"])
    clock.advance(seconds=5)
    again = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "login"})
    response = again.start(browser)
    assert asks_to_log_in(response)
    code2 = code_from(log_in(browser, response, person.document, person.password, sms_file))
    second = id_token_claims(browser, redeem(browser, rp, again, code2).get_json()["id_token"])
    assert second["auth_time"] > first["auth_time"]


def test_oidcc_max_age_1_requires_login_after_a_second(app, browser, sms_file, rp, person):
    logged_in_code(browser, sms_file, rp, person)
    clock.advance(seconds=2)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"max_age": "1"})
    response = attempt.start(browser)
    assert asks_to_log_in(response)
    code = code_from(log_in(browser, response, person.document, person.password, sms_file))
    claims = id_token_claims(browser, redeem(browser, rp, attempt, code).get_json()["id_token"])
    assert clock.timestamp() - claims["auth_time"] <= 1


def test_prompt_consent_asks_again_even_when_consent_was_given(app, browser, sms_file, rp, person):
    logged_in_code(browser, sms_file, rp, person)
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "consent"}).start(browser)
    assert "/consent" in response.headers["Location"]


def test_denying_consent_returns_access_denied_with_state(app, browser, sms_file, rp, person):
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    response = log_in(browser, attempt.start(browser), person.document, person.password, sms_file)
    denied = query(consent(browser, response, decision="deny"))
    assert denied["error"] == "access_denied" and denied["state"] == attempt.state


def test_step_up_from_low_to_substantial_asks_only_for_the_sms_code(app, browser, sms_file, rp, person):
    logged_in_code(browser, sms_file, rp, person)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"acr_values": ACR_SUBSTANTIAL})
    response = attempt.start(browser)
    from idp.sms import latest_code, read_sms_file

    sent_before = len(read_sms_file(sms_file))
    confirm = browser.get(response.headers["Location"])
    assert confirm.status_code == 200 and len(read_sms_file(sms_file)) == sent_before
    page = submit(browser, confirm, "/login/step-up")
    assert is_login_sms_page(page)
    code = code_from(submit(browser, page, "/login/otp", otp=latest_code(sms_file)))
    claims = id_token_claims(browser, redeem(browser, rp, attempt, code).get_json()["id_token"])
    assert claims["acr"] == ACR_SUBSTANTIAL and set(claims["amr"]) == {"pwd", "sms", "mfa"}


def test_acr_values_cannot_lower_the_level_the_client_registered(app, browser, sms_file, person):
    strict = make_client(default_acr=ACR_SUBSTANTIAL)
    attempt = AuthorizationAttempt(strict.client_id, strict.redirect_uri,
                                   extra={"acr_values": ACR_LOW})
    page = attempt.start(browser)
    response = submit(browser, page, "/login", document=person.document, password=person.password)
    assert is_login_sms_page(response)


def test_oidcc_claims_essential_releases_the_requested_id_token_claim(app, browser, sms_file, rp, person):
    claims_param = json.dumps({"id_token": {"document_number": {"essential": True}},
                               "userinfo": {"email": None}})
    attempt, code = logged_in_code(browser, sms_file, rp, person, claims=claims_param)
    body = redeem(browser, rp, attempt, code).get_json()
    assert id_token_claims(browser, body["id_token"])["document_number"] == person.document
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.get_json()["email"] == person.citizen.email


def test_request_object_is_rejected_rather_than_ignored(app, browser, rp):
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri,
                                    extra={"request": "eyJ.x.y"}).start(browser)
    assert query(response)["error"] == "request_not_supported"
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri,
                                    extra={"request_uri": "https://rp.example/r"}).start(browser)
    assert query(response)["error"] == "request_uri_not_supported"


def test_unknown_parameters_are_ignored(app, browser, rp):
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"foo": "bar"}).start(browser)
    assert asks_to_log_in(response)


def test_authorization_request_by_post_is_accepted(app, browser, rp):
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    response = browser.post("/authorize", data=attempt.params())
    assert asks_to_log_in(response)


def test_public_client_without_pkce_is_refused(app, browser):
    public = make_client(auth_method="none")
    attempt = AuthorizationAttempt(public.client_id, public.redirect_uri)
    params = attempt.params()
    del params["code_challenge"], params["code_challenge_method"]
    response = browser.get("/authorize", query_string=params)
    assert query(response)["error"] == "invalid_request"


def test_plain_pkce_is_refused(app, browser, rp):
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"code_challenge_method": "plain"})
    assert query(attempt.start(browser))["error"] == "invalid_request"


def test_wrong_pkce_verifier_is_invalid_grant(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    attempt.verifier = "x" * 64
    response = redeem(browser, rp, attempt, code)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    response = browser.post("/token", headers=basic(rp.client_id, "wrong"), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": attempt.verifier})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_client_secret_post_authenticates(app, browser, sms_file, person):
    rp = make_client(auth_method="client_secret_post")
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    response = browser.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": attempt.verifier, "client_id": rp.client_id, "client_secret": rp.secret})
    assert response.status_code == 200


def test_public_client_redeems_with_pkce_and_no_secret(app, browser, sms_file, person):
    rp = make_client(auth_method="none")
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    response = browser.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
        "code_verifier": attempt.verifier, "client_id": rp.client_id})
    assert response.status_code == 200


def test_private_key_jwt_authenticates_and_a_replayed_assertion_is_refused(app, browser, sms_file, person):
    key = RSAKey.generate_key(2048, parameters={"kid": "rp-key"})
    rp = make_client(auth_method="private_key_jwt",
                     jwks={"keys": [key.as_dict(private=False)]})
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    now = clock.timestamp()
    assertion = jwt.encode({"alg": "RS256", "kid": "rp-key"}, {
        "iss": rp.client_id, "sub": rp.client_id, "aud": f"{app.config['IDP_ISSUER']}/token",
        "iat": now, "exp": now + 60, "jti": "one-time"}, key)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri,
            "code_verifier": attempt.verifier,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}
    assert browser.post("/token", data=form).status_code == 200
    replayed = browser.post("/token", data=form)
    assert replayed.status_code == 400 and replayed.get_json()["error"] == "invalid_client"


def test_oidcc_refresh_token_rotates_and_a_replay_revokes_the_family(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    first = redeem(browser, rp, attempt, code).get_json()
    refresh = lambda token: browser.post("/token", headers=basic(rp.client_id, rp.secret), data={  # noqa: E731
        "grant_type": "refresh_token", "refresh_token": token})
    rotated = refresh(first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.get_json()
    assert second["refresh_token"] != first["refresh_token"] and "id_token" in second
    assert refresh(first["refresh_token"]).status_code == 400
    assert refresh(second["refresh_token"]).status_code == 400
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert info.status_code == 401


def test_userinfo_accepts_the_token_in_a_post_body(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    token = redeem(browser, rp, attempt, code).get_json()["access_token"]
    assert browser.post("/userinfo", data={"access_token": token}).status_code == 200
    assert browser.post("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_expired_access_token_is_refused_at_userinfo(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    token = redeem(browser, rp, attempt, code).get_json()["access_token"]
    clock.advance(seconds=app.config["IDP_ACCESS_TOKEN_TTL"] + 1)
    assert browser.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_introspection_reports_active_then_inactive_after_revocation(app, browser, sms_file, rp, person):
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    body = redeem(browser, rp, attempt, code).get_json()
    introspect = lambda: browser.post("/introspect", headers=basic(rp.client_id, rp.secret),  # noqa: E731
                                      data={"token": body["access_token"]}).get_json()
    assert introspect()["active"] is True
    revoked = browser.post("/revoke", headers=basic(rp.client_id, rp.secret),
                           data={"token": body["refresh_token"], "token_type_hint": "refresh_token"})
    assert revoked.status_code == 200
    assert introspect()["active"] is False


# -- RP-Initiated Logout ----------------------------------------------------------------------

def _id_token(browser, sms_file, rp, person):  # type: ignore[no-untyped-def]
    attempt, code = logged_in_code(browser, sms_file, rp, person)
    return redeem(browser, rp, attempt, code).get_json()["id_token"]


def test_logout_with_id_token_hint_redirects_with_state_and_ends_the_session(
        app, browser, sms_file, rp, person):
    hint = _id_token(browser, sms_file, rp, person)
    response = browser.get("/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": "https://rp.example/bye", "state": "s1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://rp.example/bye?state=s1"
    after = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "none"}).start(browser)
    assert query(after)["error"] == "login_required"


def test_oidcc_rp_initiated_logout_bad_post_logout_redirect_uri_shows_our_page(
        app, browser, sms_file, rp, person):
    hint = _id_token(browser, sms_file, rp, person)
    response = browser.get("/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": "https://evil.example/bye"})
    assert response.status_code == 200 and "Location" not in response.headers


def test_rp_initiated_logout_query_added_to_post_logout_redirect_uri_is_not_followed(
        app, browser, sms_file, rp, person):
    hint = _id_token(browser, sms_file, rp, person)
    response = browser.get("/logout", query_string={
        "id_token_hint": hint, "post_logout_redirect_uri": "https://rp.example/bye?extra=1"})
    assert "Location" not in response.headers


def test_rp_initiated_logout_modified_id_token_hint_is_refused(app, browser, sms_file, rp, person):
    hint = _id_token(browser, sms_file, rp, person)
    header, payload, signature = hint.split(".")
    tampered = ".".join([header, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    response = browser.get("/logout", query_string={
        "id_token_hint": tampered, "post_logout_redirect_uri": "https://rp.example/bye"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_id_token_hint_signed_by_a_foreign_key_is_refused(app, browser, rp):
    foreign = RSAKey.generate_key(2048, parameters={"kid": "x"})
    forged = jwt.encode({"alg": "RS256", "kid": "x"}, {"iss": app.config["IDP_ISSUER"],
                                                       "aud": rp.client_id, "sub": "s"}, foreign)
    response = browser.get("/logout", query_string={
        "id_token_hint": forged, "post_logout_redirect_uri": "https://rp.example/bye"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_logout_without_hint_asks_for_confirmation_then_redirects_for_the_named_client(
        app, browser, sms_file, rp, person):
    logged_in_code(browser, sms_file, rp, person)
    page = browser.get("/logout", query_string={
        "client_id": rp.client_id, "post_logout_redirect_uri": "https://rp.example/bye", "state": "z"})
    assert page.status_code == 200
    confirmed = submit(browser, page, "/logout", confirm="yes", client_id=rp.client_id,
                       post_logout_redirect_uri="https://rp.example/bye", state="z")
    assert confirmed.headers["Location"] == "https://rp.example/bye?state=z"


def test_key_rotation_keeps_the_retired_key_published_until_its_tokens_expire(
        app, browser, sms_file, rp, person):
    from datetime import timedelta
    from pathlib import Path

    from idp.oidc.keys import rotate_keys

    old_token = _id_token(browser, sms_file, rp, person)
    rotate_keys(Path(app.config["IDP_KEYS_DIR"]), timedelta(seconds=app.config["IDP_ID_TOKEN_TTL"]))
    assert id_token_claims(browser, old_token)["sub"]
    kids = {k["kid"] for k in browser.get("/jwks.json").get_json()["keys"]}
    assert len(kids) == 4


def test_retired_key_leaves_the_jwks_once_its_tokens_have_expired(app, browser):
    from datetime import timedelta
    from pathlib import Path

    from idp.oidc.keys import rotate_keys

    browser.get("/jwks.json")
    rotate_keys(Path(app.config["IDP_KEYS_DIR"]), timedelta(seconds=app.config["IDP_ID_TOKEN_TTL"]))
    assert len(browser.get("/jwks.json").get_json()["keys"]) == 4
    clock.advance(seconds=app.config["IDP_ID_TOKEN_TTL"] + 1)
    assert len(browser.get("/jwks.json").get_json()["keys"]) == 2


def test_signing_keys_can_be_encrypted_at_rest_with_a_passphrase(tmp_path):
    from datetime import timedelta

    from idp.oidc.keys import KeyStore, ensure_keys

    ensure_keys(tmp_path, "correct horse battery staple")
    pem = next(tmp_path.glob("rs256-*.pem")).read_text()
    assert "ENCRYPTED PRIVATE KEY" in pem
    store = KeyStore(tmp_path, timedelta(minutes=10), "correct horse battery staple")
    assert store.signing_key("ES256").kid.startswith("es256-")
    assert oct(next(tmp_path.glob("*.pem")).stat().st_mode)[-3:] == "600"


def test_cookies_get_the_host_prefix_and_secure_flag_behind_https(template_dir, tmp_path):
    from tests.conftest import build_app, prepare_files

    prepare_files(template_dir, tmp_path)
    secure = build_app(tmp_path, IDP_SECURE_COOKIES=True, IDP_ISSUER="https://localhost")
    response = secure.test_client().get("/login", base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-idp_session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "Strict-Transport-Security" in response.headers
