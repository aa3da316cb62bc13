"""Nothing a client or a browser can send makes the server answer 500, and a refused
request changes nothing."""

from __future__ import annotations

import base64
import contextlib
import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from idp.extensions import db
from idp.mobile.models import Device
from idp.models import Citizen, Consent, LoginSession
from idp.oidc.models import AuthorizationCode, Token
from idp.web import LANGUAGE_COOKIE
from tests.conftest import build_app, prepare_files
from tests.factories import make_citizen, make_client
from tests.security.test_hosts import MALFORMED_HOSTS, WELL_FORMED_HOSTS
from tests.support.receivers import allow_loopback_uris, answer, serving
from tests.support.routes import every_route

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


# -- headers ------------------------------------------------------------------------------
# Header values reach the app as WSGI strings: octets 0-255 (a line break ends the header).
octets = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=200)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


HOSTS = st.sampled_from(MALFORMED_HOSTS + WELL_FORMED_HOSTS) | octets
CONTENT_TYPES = st.sampled_from([
    "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=no-such-charset", "application/json",
    "application/json; charset=utf-16", "application/json; charset=\x00", "multipart/form-data",
    "multipart/form-data; boundary=", "multipart/form-data; boundary=x", "text/plain", "",
    ";;;", "application/jwt", "*/*", "application/x-www-form-urlencoded" + "; a=b" * 500,
]) | octets
AUTHORIZATIONS = st.one_of(
    st.sampled_from(["Basic", "Basic ", "Basic %%%", "Basic Og==", "Basic " + _b64(b"no-colon"),
                     "Basic " + _b64(b"\xff\xfe:\xc3("), "Basic " + _b64(b":"), "Bearer",
                     "Bearer ", "Bearer a b", "DPoP eyJhbGciOiJub25lIn0.e30.", "Negotiate x",
                     "Basic " + "A" * 8000, "Bearer " + "x" * 8000]),
    st.binary(max_size=60).map(lambda raw: "Basic " + _b64(raw)),
    octets.map(lambda junk: "Bearer " + junk), octets)
LANGUAGES = st.sampled_from(["*", "es;q=abc", "eu-ES,eu;q=0.9", "ca-ES-valencia", "q=1", ";;",
                             "en;q=2", "x" * 1000, "gl;q=0, *;q=0"]) | octets
FORWARDED = st.sampled_from(["", "127.0.0.1", "203.0.113.9, 10.0.0.1", "not an address", "[::1]",
                             "https", "javascript", "a" * 64, "idp.example.org:99999"]) | octets
CONDITIONS = st.sampled_from(['"x"', "*", 'W/"x", "y"', "bytes=0-0", "bytes=-1, 5-1",
                              "bytes=99999999999999999999-", "Thu, 01 Jan 1970 00:00:00 GMT",
                              "Fri, 31 Dec 9999 23:59:59 GMT", "yesterday"]) | octets
BODIES = st.one_of(st.just(b""), st.binary(max_size=200),
                   st.dictionaries(st.sampled_from(PARAMS), octets, max_size=4).map(
                       lambda fields: urlencode(fields).encode()))


def _cookies(session_cookie: str, name: str) -> st.SearchStrategy[str]:
    """Garbage, tampered, duplicated, huge: cookies for the session and the language."""
    tampered = session_cookie[:-1] + ("A" if session_cookie[-1] != "A" else "B")
    return st.one_of(
        st.sampled_from([f"{name}={session_cookie}", f"{name}={tampered}", f"{name}=garbage",
                         f"{name}=", f"{name}=.eJyrVkrLz1eyUkpKLFKqBQA.x.y",
                         f"{name}={tampered}; {name}={session_cookie}", f"x={'a' * 8000}",
                         f"{LANGUAGE_COOKIE}=xx", f"{LANGUAGE_COOKIE}=eu; {LANGUAGE_COOKIE}=\x00",
                         f"{LANGUAGE_COOKIE}={'ca_ES_VALENCIA' * 300}", ";;=;", "=", '"']),
        octets.map(lambda junk: f"{name}={junk}"), octets)


def _headers(cookies: st.SearchStrategy[str], *, forwarded: bool) -> st.SearchStrategy[dict]:
    optional = {"Host": HOSTS, "Content-Type": CONTENT_TYPES, "Authorization": AUTHORIZATIONS,
                "Cookie": cookies, "X-Request-Id": octets, "Accept-Language": LANGUAGES,
                "X-SSL-Client-Cert": octets, "Device-Proof": octets, "DPoP": octets,
                "If-None-Match": CONDITIONS, "If-Modified-Since": CONDITIONS, "Range": CONDITIONS,
                "Referer": octets, "Accept": octets}
    if forwarded:
        optional |= {name: FORWARDED for name in ("X-Forwarded-For", "X-Forwarded-Proto",
                                                  "X-Forwarded-Host", "X-Forwarded-Port",
                                                  "X-Forwarded-Prefix")}
    return st.fixed_dictionaries({}, optional=optional)


def _counts() -> tuple[int, ...]:
    db.session.expire_all()
    return tuple(db.session.scalar(db.select(db.func.count()).select_from(model))
                 for model in (Citizen, Token, AuthorizationCode, Device, LoginSession, Consent))


def _every_route_survives(app, headers_strategy) -> None:  # type: ignore[no-untyped-def]
    """Each example's headers (and body) go to every route; no answer is a 500, none of the
    rows that identify someone or grant access is written, no password changes."""
    person, rp = make_citizen(), make_client()
    routes = every_route(app)
    before = _counts()
    client = app.test_client(use_cookies=False)

    @settings(max_examples=20, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(headers_strategy, BODIES,
           st.sampled_from([None, f"Basic {_b64(f'{rp.client_id}:{rp.secret}'.encode())}"]))
    def check(headers, body, genuine_client):  # type: ignore[no-untyped-def]
        if genuine_client and "Authorization" not in headers:
            headers = {**headers, "Authorization": genuine_client}
        for method, path in routes:
            response = client.open(path, method=method, headers=headers,
                                   data=body if method == "POST" else None)
            assert response.status_code < 500, (method, path, response.get_data(as_text=True)[:300])
            response.close()
        assert _counts() == before
        assert db.session.get(Citizen, person.citizen.id).password_hash == person.citizen.password_hash

    check()


def test_no_header_value_makes_any_route_answer_500(app):
    session_cookie = _a_genuine_session_cookie(app)
    _every_route_survives(app, _headers(_cookies(session_cookie, app.config["SESSION_COOKIE_NAME"]),
                                        forwarded=False))


def test_no_forwarded_header_makes_any_route_answer_500_behind_a_proxy(template_dir, tmp_path):
    """IDP_PROXY_COUNT=1: X-Forwarded-* now rewrite the request (the test above shows the
    default ignoring them); the certificate header is trusted from the test client's peer."""
    prepare_files(template_dir, tmp_path)
    overrides = {"IDP_PROXY_COUNT": 1, "IDP_TRUSTED_PROXIES": "127.0.0.1"}
    server, twin = build_app(tmp_path, **overrides), build_app(tmp_path, **overrides)
    with twin.test_request_context():
        session_cookie = _a_genuine_session_cookie(server)
        _every_route_survives(server, _headers(
            _cookies(session_cookie, server.config["SESSION_COOKIE_NAME"]), forwarded=True))


def _a_genuine_session_cookie(app) -> str:  # type: ignore[no-untyped-def]
    """The signed session cookie a browser holds after opening the login page."""
    browser = app.test_client()
    browser.get("/login")
    cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    return cookie.value
