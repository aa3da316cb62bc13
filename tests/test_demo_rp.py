"""The demo relying party behaves as a careful OpenID Connect client.

It is driven with Flask's test client. The identity provider is either absent (a closed local
port, the genuine "connection refused"), or a small OpenID provider served over real HTTP on
127.0.0.1 that signs genuine RS256 ID tokens, so discovery, JWKS, PKCE, client
authentication and token validation all happen for real.

The browser here asks for English, as the end-to-end tests' browser does, so that the texts
asserted are the source texts; the demo's own language (Spanish unless the browser prefers
English) is tested in tests/test_demo_rp_language.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from demo_rp.app import create_app

CLIENT_ID = "demo-rp-client"
CLIENT_SECRET = "s3cret-for-tests"
BASE_URL = "http://rp.test"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LOW = "http://eidas.europa.eu/LoA/low"
CITIZEN = {
    "sub": "pairwise-4b1d0c",
    "given_name": "María José",
    "family_name": "García Fernández",
    "first_surname": "García",
    "second_surname": "Fernández",
    "name": "María José García Fernández",
    "birthdate": "1980-02-29",
    "email": "mariajose.garcia@example.es",
    "email_verified": True,
    "phone_number": "+34600111222",
    "phone_number_verified": True,
    "document_number": "12345678Z",
    "document_type": "DNI",
    "person_identifier": "ES/ES/12345678Z",
}
SIGNING_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})


def _half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class FakeProvider:
    """An OpenID provider on 127.0.0.1 that follows the protocol and records what it saw."""

    url: str = ""
    advertised_issuer: str | None = None
    id_token_audience: str = CLIENT_ID
    pending: dict[str, dict[str, str]] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> "active" / "used"
    access_tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.advertised_issuer or self.url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "userinfo_endpoint": self.url + "/userinfo",
            "jwks_uri": self.url + "/jwks",
            "end_session_endpoint": self.url + "/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": True,
        }

    def approve(self, authorization_url: str, acr: str | None = None) -> dict[str, str]:
        """The citizen logs in at the IdP: return the query the browser brings back."""
        request = dict(parse_qsl(urlsplit(authorization_url).query))
        code = secrets.token_urlsafe(24)
        self.pending[code] = {**request, "granted_acr": acr or request["acr_values"]}
        return {"code": code, "state": request["state"], "iss": self.url}

    def token_response(self, form: dict[str, str], client: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        if client != f"{CLIENT_ID}:{CLIENT_SECRET}":
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") == "authorization_code":
            request = self.pending.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if (request is None or request["redirect_uri"] != form.get("redirect_uri")
                    or request["code_challenge"] != challenge.rstrip(b"=").decode()):
                return 400, {"error": "invalid_grant"}
            return 200, self._tokens(request["granted_acr"], nonce=request["nonce"])
        if form.get("grant_type") == "refresh_token":
            token = form.get("refresh_token", "")
            if self.refresh_tokens.get(token) != "active":
                return 400, {"error": "invalid_grant", "error_description": "refresh token used"}
            self.refresh_tokens[token] = "used"
            return 200, self._tokens(SUBSTANTIAL, nonce=None)
        return 400, {"error": "unsupported_grant_type"}

    def _tokens(self, acr: str, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        # A JWT access token, as large as real ones, so the cookie-size check is meaningful.
        access_token = jwt.encode(
            {"alg": "RS256", "kid": SIGNING_KEY.kid},
            {"iss": self.url, "sub": CITIZEN["sub"], "aud": self.url + "/userinfo",
             "client_id": CLIENT_ID, "scope": "openid profile email phone national_id",
             "iat": now, "exp": now + 600, "jti": secrets.token_urlsafe(16)},
            SIGNING_KEY,
        )
        refresh_token = secrets.token_urlsafe(32)
        self.access_tokens.add(access_token)
        self.refresh_tokens[refresh_token] = "active"
        claims = {**CITIZEN, "iss": self.url, "aud": self.id_token_audience, "iat": now,
                  "exp": now + 300, "auth_time": now, "acr": acr, "amr": ["pwd", "sms", "mfa"],
                  "sid": secrets.token_urlsafe(16), "at_hash": _half_hash(access_token)}
        if nonce:
            claims["nonce"] = nonce
        id_token = jwt.encode({"alg": "RS256", "kid": SIGNING_KEY.kid}, claims, SIGNING_KEY)
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": 600,
                "refresh_token": refresh_token, "id_token": id_token,
                "scope": "openid profile email phone national_id"}


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    op = FakeProvider()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/.well-known/openid-configuration":
                self._json(200, op.metadata())
            elif path == "/jwks":
                self._json(200, KeySet([SIGNING_KEY]).as_dict(private=False))
            elif path == "/userinfo":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token in op.access_tokens:
                    self._json(200, CITIZEN)
                else:
                    self._json(401, {"error": "invalid_token"})
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            basic = self.headers.get("Authorization", "").removeprefix("Basic ")
            client = base64.b64decode(basic).decode() if basic else ""
            status, payload = op.token_response(dict(parse_qsl(body)), client)
            self._json(status, payload)

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    op.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield op
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Neither the developer's DEMO_RP_* variables nor instance/ may leak into a test."""
    for name in list(os.environ):
        if name.startswith("DEMO_RP_"):
            monkeypatch.delenv(name)
    # create_app may set it. Set first, so that monkeypatch notes its absence and restores
    # it afterwards (delenv of an absent variable notes nothing): the IdP's tests in the
    # same worker expect Authlib's transport check.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "")
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT")
    monkeypatch.setenv("DEMO_RP_CLIENT_FILE", str(tmp_path / "absent.json"))


class EnglishBrowser(FlaskClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"


def make_app(issuer: str, **overrides: Any) -> Flask:
    config = {"DEMO_RP_ISSUER": issuer, "DEMO_RP_BASE_URL": BASE_URL,
              "DEMO_RP_CLIENT_ID": CLIENT_ID, "DEMO_RP_CLIENT_SECRET": CLIENT_SECRET,
              "TESTING": True}
    app = create_app({**config, **overrides})
    app.test_client_class = EnglishBrowser
    return app


@pytest.fixture
def client(provider: FakeProvider) -> FlaskClient:
    return make_app(provider.url).test_client()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def log_in(client: FlaskClient, provider: FakeProvider, query: str = "",
           acr: str | None = None) -> Any:
    redirect = client.get("/login" + query)
    assert redirect.status_code == 302, redirect.get_data(as_text=True)
    return client.get("/callback", query_string=provider.approve(redirect.location, acr))


def test_home_page_offers_login_with_clave_without_any_idp() -> None:
    page = make_app(closed_port_url()).test_client().get("/")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ayuntamiento de Ejemplo" in html and "Sede electrónica" in html
    assert 'action="/login"' in html and "Log in with Cl@ve" in html
    assert "<script" not in html and "style=" not in html


def test_stylesheet_is_served_from_the_app() -> None:
    css = make_app(closed_port_url()).test_client().get("/static/demo.css")

    assert css.status_code == 200 and css.mimetype == "text/css"
    css.close()


def test_an_error_from_the_idp_is_shown_on_an_error_page() -> None:
    page = make_app(closed_port_url()).test_client().get(
        "/callback",
        query_string={"error": "access_denied", "error_description": "The citizen said no",
                      "state": "x"},
    )

    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "You cancelled the login" in html and "The citizen said no" in html


def test_a_callback_from_another_issuer_is_refused_before_anything_else(
    client: FlaskClient, provider: FakeProvider
) -> None:
    redirect = client.get("/login")
    params = {**provider.approve(redirect.location), "iss": "https://evil.example"}

    page = client.get("/callback", query_string=params)

    assert page.status_code == 400
    assert "unexpected issuer" in page.get_data(as_text=True)
    assert provider.token_requests == []


def test_login_says_the_idp_is_unavailable_when_it_cannot_be_reached() -> None:
    page = make_app(closed_port_url()).test_client().get("/login")

    assert page.status_code == 503
    assert "Identity provider unavailable" in page.get_data(as_text=True)


def test_login_explains_how_to_configure_a_demo_without_client_credentials() -> None:
    app = create_app({"DEMO_RP_ISSUER": closed_port_url()})

    page = app.test_client().get("/login")

    assert page.status_code == 503
    assert "idp init --demo" in page.get_data(as_text=True)


def test_a_discovery_document_naming_another_issuer_is_not_used(
    client: FlaskClient, provider: FakeProvider
) -> None:
    provider.advertised_issuer = "https://other-idp.example"

    page = client.get("/login")

    assert page.status_code == 502
    assert "different issuer" in page.get_data(as_text=True)


def test_login_request_carries_pkce_nonce_level_language_and_prompt(
    client: FlaskClient, provider: FakeProvider
) -> None:
    redirect = client.get("/login?acr=low&lang=ca&prompt=login")

    assert redirect.status_code == 302
    url = urlsplit(redirect.location)
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == provider.url + "/authorize"
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == BASE_URL + "/callback"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["nonce"] and query["state"]
    assert query["acr_values"] == LOW
    assert query["ui_locales"] == "ca" and query["prompt"] == "login"
    assert query["scope"] == "openid profile email phone national_id"


def test_a_completed_login_shows_validated_claims_userinfo_and_level(
    client: FlaskClient, provider: FakeProvider
) -> None:
    callback = log_in(client, provider)

    assert callback.status_code == 302 and callback.location == "/"
    cookie = callback.headers["Set-Cookie"]
    assert cookie.startswith("demo_rp_session=") and len(cookie) < 4000
    html = client.get("/").get_data(as_text=True)
    assert "Substantial" in html and SUBSTANTIAL in html
    assert "one-time code by SMS" in html
    assert "ES/ES/12345678Z" in html and "García Fernández" in html
    assert "UserInfo response" in html and "Refresh tokens" in html and "Log out" in html
    assert provider.token_requests[0]["grant_type"] == "authorization_code"


def test_a_level_lower_than_requested_is_flagged(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider, "?acr=substantial", acr=LOW)

    assert "lower than the level this site asked for" in client.get("/").get_data(as_text=True)


def test_an_id_token_for_another_client_is_rejected(
    client: FlaskClient, provider: FakeProvider
) -> None:
    provider.id_token_audience = "someone-else"

    page = log_in(client, provider)

    assert page.status_code == 502
    assert "ID token rejected" in page.get_data(as_text=True)
    assert "Log out" not in client.get("/").get_data(as_text=True)


def test_a_replayed_callback_is_refused(client: FlaskClient, provider: FakeProvider) -> None:
    redirect = client.get("/login")
    params = provider.approve(redirect.location)
    client.get("/callback", query_string=params)

    page = client.get("/callback", query_string=params)

    assert page.status_code == 400
    assert "Login expired" in page.get_data(as_text=True)


def test_refresh_rotates_the_refresh_token_and_fetches_userinfo_again(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider)
    first_refresh_token = next(iter(provider.refresh_tokens))

    page = client.post("/refresh", data={"csrf_token": _csrf_token(client)},
                       follow_redirects=True)

    assert page.status_code == 200
    assert "Tokens refreshed. New access token expires at" in page.get_data(as_text=True)
    assert provider.token_requests[-1] == {"grant_type": "refresh_token",
                                           "refresh_token": first_refresh_token,
                                           "scope": "openid profile email phone national_id"}
    second = client.post("/refresh", data={"csrf_token": _csrf_token(client)})
    assert second.status_code == 302
    assert provider.token_requests[-1]["refresh_token"] != first_refresh_token


def test_a_refused_refresh_token_ends_the_local_login(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider)
    provider.refresh_tokens = dict.fromkeys(provider.refresh_tokens, "used")

    page = client.post("/refresh", data={"csrf_token": _csrf_token(client)})

    assert page.status_code == 400
    assert "invalid_grant" in page.get_data(as_text=True)
    assert "Log out" not in client.get("/").get_data(as_text=True)


def test_refresh_without_the_form_token_is_refused(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider)

    assert client.post("/refresh").status_code == 400
    assert len(provider.token_requests) == 1


def test_logout_goes_to_the_end_session_endpoint_and_back(
    client: FlaskClient, provider: FakeProvider
) -> None:
    log_in(client, provider)

    redirect = client.get("/logout")

    assert redirect.status_code == 302
    url = urlsplit(redirect.location)
    query = dict(parse_qsl(url.query))
    assert f"{url.scheme}://{url.netloc}{url.path}" == provider.url + "/logout"
    assert query["post_logout_redirect_uri"] == BASE_URL + "/logged-out"
    assert query["id_token_hint"].count(".") == 2 and query["state"]
    assert "Log out" not in client.get("/").get_data(as_text=True)
    assert client.get("/logged-out", query_string={"state": "forged"}).status_code == 400
    back = client.get("/logged-out", query_string={"state": query["state"]})
    assert back.status_code == 200
    assert "You have logged out" in back.get_data(as_text=True)


def test_all_workers_derive_the_same_session_key_from_the_client_secret() -> None:
    issuer = closed_port_url()

    assert make_app(issuer).secret_key == make_app(issuer).secret_key
    assert make_app(issuer).secret_key != make_app(
        issuer, DEMO_RP_CLIENT_SECRET="another").secret_key


def test_client_credentials_are_read_from_the_file_idp_init_writes(tmp_path: Any) -> None:
    client_file = tmp_path / "demo_client.json"
    client_file.write_text(json.dumps({"client_id": "from-file", "client_secret": "x"}))

    app = create_app({"DEMO_RP_CLIENT_FILE": str(client_file)})

    assert app.extensions["demo_rp"].settings.client_id == "from-file"


def test_plain_http_is_allowed_only_for_a_loopback_issuer() -> None:
    create_app({"DEMO_RP_ISSUER": "http://idp.example"})
    assert "AUTHLIB_INSECURE_TRANSPORT" not in os.environ

    create_app({"DEMO_RP_ISSUER": "http://localhost:5000"})
    assert os.environ["AUTHLIB_INSECURE_TRANSPORT"] == "1"


def _csrf_token(client: FlaskClient) -> str:
    client.get("/")  # the home page puts the form token in the session
    with client.session_transaction() as session:
        return session["csrf_token"]


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a..example", "", "bad host", "::1"])
@pytest.mark.parametrize("path", ["/", "/login", "/callback", "/static/demo.css", "/nope"])
def test_a_malformed_host_header_is_a_bad_request_never_a_server_error(host: str, path: str) -> None:
    response = make_app(closed_port_url()).test_client().get(path, headers={"Host": host})

    if ".." in host or len(host) > 63:  # Werkzeug cannot read it: BadHost
        assert response.status_code == 400
    assert response.status_code != 500  # /login and /callback: 503, no IdP listens there
    response.close()


def test_the_sign_page_offers_the_sample_document_without_any_idp() -> None:
    page = make_app(closed_port_url()).test_client().get("/sign")
    assert page.status_code == 200
    assert "Sign the sample document with Cl@ve" in page.get_data(as_text=True)


def test_asking_for_a_signature_without_the_form_token_is_refused() -> None:
    assert make_app(closed_port_url()).test_client().post("/sign").status_code == 400


def test_asking_for_a_signature_says_when_the_idp_is_unavailable() -> None:
    client = make_app(closed_port_url()).test_client()
    client.get("/sign")  # the page puts the form token in the session
    with client.session_transaction() as session:
        token = session["csrf_token"]
    answer = client.post("/sign", data={"csrf_token": token})
    assert answer.status_code == 503
    assert "could not be reached" in answer.get_data(as_text=True)


def test_an_answer_for_a_signature_this_browser_did_not_ask_is_refused() -> None:
    client = make_app(closed_port_url()).test_client()
    assert client.get("/signed?request_id=r&state=s").status_code == 400


def test_the_sample_document_is_a_pdf_of_one_page_that_the_idp_would_sign() -> None:
    from demo_rp.signing import sample_pdf
    from idp import create_app as create_idp
    from idp.firma.signer import inspect_pdf

    with create_idp(IDP_DATABASE_URL="sqlite://", IDP_SECRET_KEY="demo").app_context():
        assert inspect_pdf(sample_pdf("2026-12-06")).page_count == 1
