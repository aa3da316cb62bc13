"""The protocol over plain HTTP: a request to a host other than loopback is refused with a 400
that names the cause (the error JSON for clients, the error page for a browser), never a 500,
and the log says why once per process; HTTPS, as the server or a trusted proxy says, and
loopback (development) are served. ``idp serve`` warns at start when its settings would
refuse everything."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner

from idp import serving
from idp.cli import main
from idp.extensions import db
from idp.models import AuditEvent
from idp.serving import SERVERS
from tests.factories import make_citizen, make_client
from tests.oidc.test_code_flow import basic, full_login, redeem
from tests.support.browser import AuthorizationAttempt
from tests.support.live import create_client, start_idp

PUBLIC_HOST = {"Host": "idp.example.org"}
API = "/api/mobile/v1"
# Clients: the error JSON. Browsers (a person sent by an RP): the error page.
CLIENT_ROUTES = [("POST", "/token"), ("POST", "/revoke"), ("POST", "/introspect"),
                 ("GET", "/userinfo"), ("POST", "/userinfo"), ("POST", f"{API}/enrollments"),
                 ("POST", f"{API}/devices"), ("GET", f"{API}/challenges/x"),
                 ("POST", f"{API}/challenges/x/decision"), ("GET", f"{API}/pending")]
BROWSER_ROUTES = [("GET", "/authorize"), ("POST", "/authorize"), ("GET", "/logout"),
                  ("POST", "/logout")]
PUBLIC_DOCUMENTS = [("GET", "/.well-known/openid-configuration"), ("GET", "/jwks.json"),
                    ("GET", f"{API}/openapi.json")]
LOOPBACK_HOSTS = ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:8000", "127.0.0.2",
                  "[::1]", "[::1]:5000"]


class Kept(logging.Handler):
    """The records of one logger, kept for the test to read."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> Kept:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.logger.removeHandler(self)


def send(client, method: str, path: str, rp, **kwargs):  # type: ignore[no-untyped-def]
    """What a client would send there: its credentials, a code or token, a JSON body."""
    body = {"grant_type": "authorization_code", "code": "x", "token": "x", "access_token": "x",
            "client_id": rp.client_id, "response_type": "code", "redirect_uri": rp.redirect_uri,
            "scope": "openid", "code_challenge": "x" * 43, "code_challenge_method": "S256"}
    if path.startswith(API):
        return client.open(path, method=method, json={"document": "12345678Z", "password": "x"},
                           **kwargs)
    return client.open(path, method=method, data=body if method == "POST" else None,
                       query_string=None if method == "POST" else body,
                       headers={**basic(rp.client_id, rp.secret), **kwargs.pop("headers", {})},
                       **kwargs)


def test_the_lists_name_every_route_of_the_protocol(app):
    listed = set(CLIENT_ROUTES + BROWSER_ROUTES + PUBLIC_DOCUMENTS)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in ("oidc", "mobile_api"):
            path = re.sub(r"<[^>]+>", "x", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, path) in listed, (method, path)


@pytest.mark.parametrize("method,path", CLIENT_ROUTES)
def test_a_client_over_plain_http_to_a_public_host_gets_invalid_request_naming_the_cause(
        app, browser, method, path):
    response = send(browser, method, path, make_client(), headers=PUBLIC_HOST)

    assert response.status_code == 400
    assert response.get_json() == {
        "error": "invalid_request",
        "error_description": "This endpoint must be reached over HTTPS; the request came over plain HTTP."}
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method,path", BROWSER_ROUTES)
def test_a_browser_over_plain_http_to_a_public_host_gets_the_translated_error_page(
        app, browser, method, path):
    response = send(browser, method, path, make_client(),
                    headers={**PUBLIC_HOST, "Accept-Language": "ca"})

    assert response.status_code == 400 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<html lang="ca">' in page and "No s'ha pogut completar la vostra sol·licitud" in page


@pytest.mark.parametrize("method,path", PUBLIC_DOCUMENTS)
def test_the_public_documents_are_served_over_plain_http_to_any_host(app, browser, method, path):
    assert browser.open(path, method=method, headers=PUBLIC_HOST).status_code == 200


def test_a_refused_request_changes_nothing_and_its_code_still_works_over_https(app, browser, sms_file):
    person, rp = make_citizen(), make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope="openid")
    code = full_login(browser, sms_file, rp, person, attempt)
    events = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent))

    refused = browser.post("/token", headers={**basic(rp.client_id, rp.secret), **PUBLIC_HOST}, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": attempt.redirect_uri,
        "code_verifier": attempt.verifier})

    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) == events
    over_https = browser.post("/token", base_url="https://idp.example.org",
                              headers=basic(rp.client_id, rp.secret), data={
                                  "grant_type": "authorization_code", "code": code,
                                  "redirect_uri": attempt.redirect_uri,
                                  "code_verifier": attempt.verifier})
    assert over_https.status_code == 200, over_https.get_json()


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_plain_http_to_loopback_is_served_for_development(app, browser, host):
    rp = make_client()
    answer = send(browser, "POST", "/token", rp, headers={"Host": host})
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"
    assert send(browser, "POST", f"{API}/enrollments", rp, headers={"Host": host}).status_code == 401


def test_loopback_development_runs_the_whole_code_flow_over_plain_http(app, browser, sms_file):
    person, rp = make_citizen(), make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope="openid")

    tokens = redeem(browser, rp, attempt, full_login(browser, sms_file, rp, person, attempt))

    assert tokens.status_code == 200, tokens.get_json()
    access = tokens.get_json()["access_token"]
    assert browser.get("/userinfo", headers={"Authorization": f"Bearer {access}"}).status_code == 200


def test_https_as_the_server_says_is_served_whatever_the_host(app, browser):
    answer = send(browser, "POST", "/token", make_client(), base_url="https://idp.example.org")
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant"


def test_a_forwarded_proto_counts_only_from_a_trusted_proxy(app, browser, tmp_path, template_dir):
    from tests.conftest import build_app

    rp = make_client()
    forwarded = {**PUBLIC_HOST, "X-Forwarded-Proto": "https"}
    assert send(browser, "POST", "/token", rp, headers=forwarded).get_json()["error"] == "invalid_request"

    behind_proxy = build_app(tmp_path, IDP_PROXY_COUNT=1).test_client()
    assert send(behind_proxy, "POST", "/token", rp, headers=forwarded).get_json()["error"] == "invalid_grant"
    # Sent to the node directly, or by a proxy that does not say https: plain HTTP still.
    direct = send(behind_proxy, "POST", "/token", rp, headers=PUBLIC_HOST)
    assert direct.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("proxies,advice", [
    (0, "IDP_ISSUER is https but no proxy is trusted: if TLS ends at a proxy in front of the IdP, "
        "set IDP_PROXY_COUNT"),
    (1, "IDP_PROXY_COUNT is 1, but the request did not come with X-Forwarded-Proto: https"),
])
def test_the_cause_is_logged_once_per_process_with_what_to_change(tmp_path, template_dir, proxies, advice):
    from tests.conftest import build_app, prepare_files

    prepare_files(template_dir, tmp_path)
    app = build_app(tmp_path, IDP_ISSUER="https://idp.example.org", IDP_PROXY_COUNT=proxies)
    client = app.test_client()
    with Kept("idp.transport") as log:
        for path in ("/token", "/revoke", "/token"):
            assert client.post(path, headers=PUBLIC_HOST).status_code == 400
    assert len(log.records) == 1 and log.records[0].levelno == logging.WARNING
    message = log.records[0].getMessage()
    assert message.startswith("refused POST /token over plain HTTP to host 'idp.example.org'")
    assert advice in message


def test_a_request_authlib_refuses_after_ours_gets_the_same_answer(tmp_path, template_dir):
    """A plain-HTTP issuer on a public host makes Authlib refuse the authorization request
    stored at /authorize when the citizen consents: they get the error page."""
    from tests.conftest import build_app, prepare_files
    from tests.support.browser import consent, log_in

    prepare_files(template_dir, tmp_path)
    app = build_app(tmp_path, IDP_ISSUER="http://idp.example.org")
    browser = app.test_client()
    with app.app_context():
        person, rp = make_citizen(), make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope="openid")

    logged_in = log_in(browser, attempt.start(browser), person.document, person.password,
                       tmp_path / "sms.jsonl")
    finished = consent(browser, logged_in)

    assert finished.status_code == 400 and finished.mimetype == "text/html"


@pytest.fixture
def serve(monkeypatch) -> Iterator[CliRunner]:  # type: ignore[no-untyped-def]
    """``idp serve`` up to the moment it would start the server."""
    monkeypatch.setattr(serving, "serve_app", lambda *args: None)
    for name in ("IDP_ISSUER", "IDP_PROXY_COUNT"):
        monkeypatch.delenv(name, raising=False)
    yield CliRunner()


def test_idp_serve_warns_at_start_when_the_issuer_is_https_and_no_proxy_is_trusted(serve, monkeypatch):
    monkeypatch.setenv("IDP_ISSUER", "https://clave.example.gob.es")

    result = serve.invoke(main, ["serve"])

    assert result.exit_code == 0
    assert result.stderr.startswith("Warning: IDP_ISSUER is https but no proxy is trusted "
                                    "(IDP_PROXY_COUNT=0)")
    assert "Set IDP_PROXY_COUNT" in result.stderr


def test_idp_serve_warns_at_start_of_a_plain_http_issuer_on_a_public_host(serve, monkeypatch):
    monkeypatch.setenv("IDP_ISSUER", "http://clave.example.gob.es")
    assert "is plain HTTP on a host other than loopback" in serve.invoke(main, ["serve"]).stderr


@pytest.mark.parametrize("environment", [{}, {"IDP_ISSUER": "http://localhost:5000"},
                                         {"IDP_ISSUER": "https://clave.example.gob.es",
                                          "IDP_PROXY_COUNT": "1"}])
def test_idp_serve_starts_without_a_warning_on_loopback_or_behind_a_trusted_proxy(
        serve, monkeypatch, environment):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = serve.invoke(main, ["serve"])
    assert (result.exit_code, result.stderr) == (0, "")


@pytest.mark.parametrize("server", SERVERS)
def test_a_served_idp_refuses_plain_http_to_a_public_host_on_every_protocol_route(tmp_path, server):
    idp = start_idp(tmp_path, server=server)
    try:
        client = create_client(idp)
        auth = (client["client_id"], client["client_secret"])
        for method, path in CLIENT_ROUTES + BROWSER_ROUTES:
            answer = requests.request(method, idp.url + path, headers=PUBLIC_HOST, auth=auth,
                                      data={"grant_type": "authorization_code", "code": "x"},
                                      timeout=10, allow_redirects=False)
            assert answer.status_code == 400, (method, path, answer.text[:300])
            if (method, path) in CLIENT_ROUTES:
                assert answer.json()["error"] == "invalid_request", (method, path)
            else:
                assert answer.headers["Content-Type"].startswith("text/html"), (method, path)
        on_loopback = requests.post(f"{idp.url}/token", auth=auth, timeout=10,
                                    data={"grant_type": "authorization_code", "code": "x"})
        assert on_loopback.json()["error"] == "invalid_grant"
    finally:
        idp.stop()
    log = (tmp_path / f"idp-{idp.port}.log").read_text()
    assert log.count("over plain HTTP to host 'idp.example.org'") == 1, log
    assert " 500 " not in (tmp_path / f"access-{idp.port}.log").read_text()
