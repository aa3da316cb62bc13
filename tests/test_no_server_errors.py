"""Nothing a client or a browser can send makes the server answer 500, and a refused
request changes nothing."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from idp.extensions import db
from idp.models import Citizen
from tests.factories import make_citizen, make_client
from tests.support.receivers import allow_loopback_uris, answer, serving

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
maybe = st.one_of(st.none(), text, st.sampled_from(["", "openid", "none", "login", "S256",
                                                      "form_post", "-1", "9" * 30, "{}", "[]"]))
PARAMS = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
          "max_age", "acr_values", "claims", "response_mode", "code_challenge",
          "code_challenge_method", "request", "request_uri", "ui_locales", "login_hint",
          "id_token_hint", "post_logout_redirect_uri", "grant_type", "code", "refresh_token",
          "token", "token_type_hint", "client_assertion", "client_assertion_type",
          "access_token", "code_verifier", "client_secret"]
fuzz = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _params(draw_dict: dict[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in draw_dict.items() if v is not None}


@pytest.mark.parametrize("method,path", [
    ("GET", "/authorize"), ("POST", "/authorize"), ("POST", "/token"), ("GET", "/userinfo"),
    ("POST", "/userinfo"), ("POST", "/revoke"), ("POST", "/introspect"), ("GET", "/logout"),
    ("POST", "/logout"),
])
def test_protocol_endpoints_never_answer_500(app, browser, method, path):
    rp = make_client()

    @fuzz
    @given(st.fixed_dictionaries({}, optional={name: maybe for name in PARAMS}),
           st.sampled_from([None, "Bearer x", "Basic Og==", "Basic %%%", f"Basic {rp.client_id}"]))
    def check(params, authorization):  # type: ignore[no-untyped-def]
        params = _params(params)
        headers = {"Authorization": authorization} if authorization else {}
        if method == "GET":
            response = browser.get(path, query_string=params, headers=headers)
        else:
            response = browser.post(path, data=params, headers=headers)
        assert response.status_code < 500, (params, response.get_data(as_text=True)[:500])

    check()


@pytest.mark.parametrize("path", ["/login", "/activate", "/consent", "/login/otp",
                                  "/activate/otp", "/activate/password", "/login/expired",
                                  "/language", "/logout", "/mobile/push", "/mobile/continue",
                                  "/session/end"])
def test_citizen_forms_never_answer_500_and_refusals_change_nothing(app, browser, path):
    person = make_citizen()
    page = browser.get("/login")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    fields = ["document", "password", "otp", "email", "activation_code", "new_password",
              "new_password_confirm", "contrast_data", "ir", "decision", "action", "lang", "next",
              "challenge", "confirm"]

    @fuzz
    @given(st.fixed_dictionaries({}, optional={name: text for name in fields}), st.booleans())
    def check(form, with_csrf):  # type: ignore[no-untyped-def]
        before = db.session.scalar(db.select(db.func.count()).select_from(Citizen))
        data = {**form, **({"csrf_token": token} if with_csrf else {})}
        response = browser.post(path, data=data)
        assert response.status_code < 500, (form, response.get_data(as_text=True)[:500])
        db.session.expire_all()
        assert db.session.scalar(db.select(db.func.count()).select_from(Citizen)) == before
        assert db.session.get(Citizen, person.citizen.id).password_hash == person.citizen.password_hash

    check()


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), text),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12)
ASSERTION_KEY = RSAKey.generate_key(2048, parameters={"kid": "rp-key"})


def _segment(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("registered_for", ["client_secret_basic", "jwks", "jwks_uri"])
def test_no_client_assertion_answers_500(app, browser, registered_for):
    """Whatever its header, claims and signature, and whatever the named client is
    registered for: ``invalid_client`` (or another client error), never a 500."""
    app.config["IDP_RATE_LIMITS"] = "client_auth.ip=100000/300"
    allow_loopback_uris(app)
    with serving(answer(200, KeySet([ASSERTION_KEY]).as_dict(private=False))) as jwks:
        rp = {"client_secret_basic": lambda: make_client(),
              "jwks": lambda: make_client(auth_method="private_key_jwt",
                                          jwks=KeySet([ASSERTION_KEY]).as_dict(private=False)),
              "jwks_uri": lambda: make_client(auth_method="private_key_jwt", jwks_uri=jwks.url),
              }[registered_for]()
        header = st.fixed_dictionaries({}, optional={
            "alg": st.sampled_from(["RS256", "ES256", "HS256", "none", "PS256", "EdDSA", "RSA-OAEP"]) | text,
            "kid": st.sampled_from(["rp-key", "other"]) | json_values, "typ": json_values,
            "crit": json_values, "jku": text})
        claims = st.fixed_dictionaries({}, optional={
            "sub": st.just(rp.client_id) | json_values, "iss": st.just(rp.client_id) | json_values,
            "aud": st.just("http://localhost/token") | json_values, "exp": st.integers() | json_values,
            "iat": st.integers() | json_values, "jti": json_values}) | json_values

        @fuzz
        @given(header, claims, st.binary(max_size=300), st.booleans())
        def check(header, claims, signature, really_signed):  # type: ignore[no-untyped-def]
            assertion = ".".join([_segment(header), _segment(claims), _segment(signature)])
            if really_signed and isinstance(claims, dict):
                with contextlib.suppress(Exception):  # headers joserfc refuses to sign stay unsigned
                    assertion = jwt.encode({**header, "alg": "RS256"}, claims, ASSERTION_KEY)
            response = browser.post("/token", data={
                "grant_type": "refresh_token", "refresh_token": "x", "client_assertion": assertion,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
            assert response.status_code < 500, (header, claims, response.get_data(as_text=True)[:300])

        check()


@pytest.mark.parametrize("path", ["/api/mobile/v1/enrollments", "/api/mobile/v1/devices",
                                  "/api/mobile/v1/challenges/x/decision"])
def test_mobile_api_never_answers_500_to_any_json(app, browser, path):
    make_citizen()

    @fuzz
    @given(json_values, st.one_of(st.none(), header_text))
    def check(body, proof):  # type: ignore[no-untyped-def]
        headers = {"Device-Proof": proof} if proof is not None else {}
        response = browser.post(path, json=body, headers=headers)
        assert response.status_code < 500, (body, response.get_data(as_text=True)[:300])
        assert response.is_json

    check()


@pytest.mark.parametrize("path", ["/", "/login", "/login/otp", "/login/expired", "/activate",
                                  "/activate/otp", "/activate/password", "/consent",
                                  "/mobile/status/x", "/mobile/qr/x.png", "/m/c/x", "/healthz"])
def test_citizen_pages_never_answer_500_to_any_query(app, browser, path):
    person = make_citizen()
    page = browser.get("/activate")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    browser.post("/activate", data={"csrf_token": token, "document": person.document,
                                    "email": person.citizen.email,
                                    "activation_code": person.activation_code})

    @fuzz
    @given(st.fixed_dictionaries({}, optional={name: text for name in
                                               ["problem", "ir", "next", "ui_locales", "lang"]}))
    def check(query):  # type: ignore[no-untyped-def]
        response = browser.get(path, query_string=query)
        assert response.status_code < 500, (query, response.get_data(as_text=True)[:300])

    check()
