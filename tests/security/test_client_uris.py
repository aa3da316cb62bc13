"""Server-side request forgery: the URIs the IdP itself calls (a client's ``jwks_uri`` and
``backchannel_logout_uri``) must be https on public addresses, when registered and again
whenever they are used, and the address checked is the address connected to."""

from __future__ import annotations

import socket
import ssl
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp import outbound
from idp.clients import ClientError
from tests.factories import make_client
from tests.support.pki import make_authority, pem
from tests.support.receivers import allow_loopback_uris, answer, drip, serving

REFUSED = [
    "http://rp.example.org/jwks",  # plain http outside the development switch
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://10.0.0.7/jwks", "https://172.16.3.4/jwks", "https://192.168.1.1/jwks",  # private
    "https://100.64.0.1/jwks",  # carrier-grade NAT
    "https://127.0.0.1/jwks", "https://localhost/jwks", "https://[::1]/jwks",  # loopback
    "https://0.0.0.0/jwks", "https://[::]/jwks",  # unspecified
    "https://224.0.0.1/jwks", "https://[ff02::1]/jwks",  # multicast
    "https://240.0.0.1/jwks", "https://192.0.2.10/jwks",  # reserved, documentation
    "https://[fe80::1]/jwks", "https://[fd00::1]/jwks",  # link-local, unique local
    "https://[::ffff:169.254.169.254]/jwks", "https://[::ffff:10.0.0.1]/jwks",  # IPv4-mapped
    "https://[64:ff9b::a9fe:a9fe]/jwks", "https://[2002:a9fe:a9fe::1]/jwks",  # NAT64, 6to4
    "https://user:pass@203.0.113.9/jwks", "https://93.184.215.14/jwks#fragment",
    "ftp://93.184.215.14/jwks", "https:///jwks", "not a uri",
]


@pytest.mark.parametrize("uri", REFUSED)
@pytest.mark.parametrize("field", ["jwks_uri", "backchannel_logout_uri"])
def test_client_registration_refuses_jwks_and_logout_uris_on_private_or_plain_http_addresses(
        app, field, uri):
    options = {"auth_method": "private_key_jwt"} if field == "jwks_uri" else {}
    with pytest.raises(ClientError, match=field):
        make_client(**options, **{field: uri})


def test_a_public_https_uri_is_accepted(app):
    rp = make_client(auth_method="private_key_jwt", jwks_uri="https://93.184.215.14/jwks",
                     backchannel_logout_uri="https://93.184.215.14/logout")
    assert rp.client.client_metadata["jwks_uri"] == "https://93.184.215.14/jwks"


def test_a_name_is_refused_when_any_of_its_addresses_is_private(app, monkeypatch):
    def resolve(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", resolve)
    with pytest.raises(ClientError, match="10.1.2.3"):
        make_client(backchannel_logout_uri="https://rp.example.org/logout")


def test_loopback_receivers_are_admitted_only_with_the_development_switch(app):
    uri = "http://127.0.0.1:8001/backchannel"
    with pytest.raises(ClientError):
        make_client(backchannel_logout_uri=uri)
    allow_loopback_uris(app)
    assert make_client(backchannel_logout_uri=uri).client.client_metadata["backchannel_logout_uri"] == uri
    with pytest.raises(ClientError):
        make_client(backchannel_logout_uri="http://10.0.0.7/backchannel")


def test_every_use_checks_the_uri_again(app):
    """A name may resolve elsewhere later, or the switch be turned off: nothing is sent."""
    allow_loopback_uris(app)
    with serving(answer(200, {"keys": []})) as jwks:
        with pytest.raises(outbound.RefusedUri):
            outbound.get(jwks.url, allow_loopback=False, max_bytes=1024)
        assert jwks.hits == 0


def test_the_address_checked_is_the_address_connected_to(app, monkeypatch):
    """No second lookup between the check and the connection (DNS rebinding): the name is
    resolved once and the request goes to that address, with the name as its Host."""
    lookups = []
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        lookups.append(host)
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", resolve)
    seen = []
    with serving(lambda handler: (seen.append(handler.headers["Host"]), answer(200, {})(handler))) as rp:
        port = rp.url.split(":")[2].split("/")[0]
        reply = outbound.get(f"http://rebinding.test:{port}/", allow_loopback=True, max_bytes=1024)
    assert reply.status == 200 and lookups == ["rebinding.test"]
    assert seen == [f"rebinding.test:{port}"]


def test_the_next_checked_address_is_tried_when_one_does_not_answer(app, monkeypatch):
    """A host may publish an address this server cannot reach (often its IPv6 one)."""
    def resolve(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", resolve)
    with serving(answer(200, {})) as rp:
        reply = outbound.get(f"http://two-addresses.test:{rp.port}/", allow_loopback=True, max_bytes=64)
    assert reply.status == 200 and rp.hits == 1


def test_redirects_are_not_followed(app):
    def redirect(handler):  # type: ignore[no-untyped-def]
        handler.send_response(302)
        handler.send_header("Location", "http://169.254.169.254/")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with serving(redirect) as rp:
        reply = outbound.get(rp.url, allow_loopback=True, max_bytes=1024)
    assert reply.status == 302


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The TLS context of a server with a certificate for ``rp.test`` from a test CA that
    the IdP is made to trust; every name resolves to 127.0.0.1."""
    authority = make_authority()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rp.test")]))
        .issuer_name(authority.certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("rp.test")]), critical=False)
        .sign(authority.key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(pem(certificate))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trusting = ssl.create_default_context(cadata=authority.pem().decode())
    trusting.sslsocket_class = outbound._DeadlineSSLSocket
    monkeypatch.setattr(outbound, "_tls_context", lambda: trusting)
    real = socket.getaddrinfo
    monkeypatch.setattr(outbound.socket, "getaddrinfo",
                        lambda host, port, *args, **kwargs: real("127.0.0.1", port, *args, **kwargs))
    return server_context


def test_https_is_verified_against_the_name_and_keeps_the_deadline(app, tls_receiver):
    with serving(answer(200, {"keys": []}), tls=tls_receiver) as rp:
        reply = outbound.get(f"https://rp.test:{rp.port}/jwks", allow_loopback=True, max_bytes=1024)
        assert reply.status == 200 and reply.body == b'{"keys": []}'
        with pytest.raises(outbound.OutboundError):  # the certificate is not for this name
            outbound.get(f"https://other.test:{rp.port}/jwks", allow_loopback=True, max_bytes=1024)
    with serving(drip(interval=0.5), tls=tls_receiver) as slow:
        started = time.monotonic()
        with pytest.raises(outbound.OutboundError):
            outbound.get(f"https://rp.test:{slow.port}/jwks", allow_loopback=True, max_bytes=1024)
        assert time.monotonic() - started < outbound.DEADLINE_SECONDS + 2
