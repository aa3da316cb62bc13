"""The Host header: a malformed one is refused with a 400 on every route, without building
any address from it; a well-formed foreign one changes nothing the IdP writes."""

from __future__ import annotations

import socket

import pytest
from werkzeug.routing import MapAdapter

from idp import web
from idp.extensions import db
from idp.models import AuditEvent
from idp.serving import SERVERS
from idp.web import JSON_PATHS
from tests.support.live import start_idp
from tests.support.routes import every_route

MALFORMED_HOSTS = [
    "a" * 64 + ".example",          # a label over 63 octets: Werkzeug's BadHost
    "idp." + "a" * 64,
    "a..example",                    # an empty label
    ".example", "-idp.example", "idp-.example", "under_score.example",
    "",                              # present but empty
    "localhost:99999", "localhost:0", "localhost:", "localhost:port", "localhost:80:80",
    "idp example", " localhost", "localhost ", "local\thost", "local\x01host", "local\x7fhost",
    "::1", "fe80::1", "[::1", "::1]", "[::1]x", "[fe80::1%eth0]", "[v1.future]", "[127.0.0.1]",
    "x" * 300, ".".join(["abc"] * 70),  # very long
    "ñandú.es", "idp.example\xa0", "idp.example/", "idp.example?x", "user@idp.example",
]
WELL_FORMED_HOSTS = ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:65535", "[::1]",
                     "[::1]:8080", "[2001:db8::7]", "IdP.Example.ORG", "idp.example.org.",
                     "xn--and-6ma2c.es", "a" * 63 + ".example", "localhost:80"]


@pytest.fixture
def no_url_building(monkeypatch):  # type: ignore[no-untyped-def]
    """Every address Flask or Jinja builds goes through MapAdapter.build: forbid it."""
    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an address was built for a request with a malformed Host")

    monkeypatch.setattr(MapAdapter, "build", refuse)


def test_a_malformed_host_header_gets_a_400_on_every_route(app, browser, no_url_building):
    routes = every_route(app)
    assert len(routes) > 60
    events = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent))
    for host in MALFORMED_HOSTS:
        for method, path in routes:
            response = browser.open(path, method=method, headers={"Host": host, "Accept-Language": "en"},
                                    data={"client_id": "x"} if method == "POST" else None)
            where = (host, method, path)
            assert response.status_code == 400, where
            assert "Set-Cookie" not in response.headers, where
            if path.startswith(JSON_PATHS):
                assert response.get_json()["error"] == "invalid_request", where
            else:
                assert response.mimetype == "text/html", where
                assert "could not complete your request" in response.get_data(as_text=True), where
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent)) == events


def test_the_host_refusal_page_is_translated_and_kept_out_of_caches(app, browser):
    response = browser.get("/login", headers={"Host": "a" * 64, "Accept-Language": "gl"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert '<html lang="gl">' in page and "Non foi posible tramitar a solicitude" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("host", WELL_FORMED_HOSTS)
def test_a_well_formed_host_header_is_served(app, browser, host):
    assert web.well_formed_host(host)
    assert browser.get("/login", headers={"Host": host}).status_code == 200
    assert browser.get("/.well-known/openid-configuration", headers={"Host": host}).status_code == 200


def test_a_foreign_host_changes_no_address_the_idp_gives_out(app, browser):
    foreign = {"Host": "idp.attacker.example"}
    discovery = browser.get("/.well-known/openid-configuration", headers=foreign).get_json()
    assert discovery["issuer"] == app.config["IDP_ISSUER"]
    assert all("attacker" not in str(value) for value in discovery.values())
    for path in ("/", "/login", "/activate", "/account", "/authorize"):
        response = browser.get(path, headers=foreign)
        assert "attacker" not in response.get_data(as_text=True), path
        assert "attacker" not in response.headers.get("Location", ""), path


@pytest.mark.parametrize("host", MALFORMED_HOSTS)
def test_the_host_rules_refuse_each_malformed_value(host):
    assert not web.well_formed_host(host)


def test_a_malformed_forwarded_host_from_a_trusted_proxy_is_refused_too(tmp_path, template_dir):
    from tests.conftest import build_app, prepare_files

    prepare_files(template_dir, tmp_path)
    behind_proxy = build_app(tmp_path, IDP_PROXY_COUNT=1).test_client()
    assert behind_proxy.get("/login", headers={"X-Forwarded-Host": "idp.example.org"}).status_code == 200
    assert behind_proxy.get("/login", headers={"X-Forwarded-Host": "a" * 64}).status_code == 400


def _raw_request(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + b"Connection: close\r\n\r\n")
        return b"".join(iter(lambda: connection.recv(65536), b""))


@pytest.mark.parametrize("server", SERVERS)
def test_a_served_idp_answers_malformed_hosts_with_400_over_a_real_connection(tmp_path, server):
    idp = start_idp(tmp_path, server=server)
    try:
        for host in [b"a" * 64 + b".example", b"a..example", b"[::1", b"\xc3\xb1and\xc3\xba.es",
                     b"localhost:99999"]:
            for path in [b"/login", b"/token", b"/static/idp.css", b"/jwks.json",
                         b"/.well-known/openid-configuration"]:
                answer = _raw_request(idp.port, b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n")
                assert answer.startswith(b"HTTP/1.1 400 "), (host, path, answer[:300])
                assert b"x-request-id" in answer.lower(), answer[:300]  # ours, not the server's
        # HTTP/1.0 sends no Host: the server's own address stands in for it.
        assert _raw_request(idp.port, b"GET /healthz HTTP/1.0\r\n").startswith(b"HTTP/1.0 200 ")
    finally:
        idp.stop()
