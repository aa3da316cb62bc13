"""The nginx configuration we ship (deploy/nginx/clave-idp.conf, explained in
docs/deployment.md) in front of a real ``idp serve``: Debian's nginx, unprivileged, on a free
port, with everything it writes under the test's folder; TLS from a test CA, and
``ssl_verify_client optional`` with the CA of the citizens' test certificates.

Through it, with real curl, a citizen registers with a certificate and gets a new activation
code; a certificate header sent straight to the IdP is ignored, and one a client sends
through nginx is replaced by what nginx itself received. The protocol is served over https
through nginx, and plain HTTP straight to the node with a public Host is refused.

nginx connects to ``idp serve`` from 127.0.0.2, the one address ``IDP_TRUSTED_PROXIES``
names; the test's own requests come from 127.0.0.1, like any other client (support.py)."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from idp.dev_certificates import make_dev_certificates
from idp.documents import parse_document
from tests.deploy.support import (
    CERTIFICATE_HOST,
    NGINX,
    PROXY_ADDRESS,
    PUBLIC,
    Answer,
    Deployment,
    Holder,
    Recorder,
    certificate_of,
    holder_of,
    start_nginx,
    stop,
    write,
)
from tests.factories import new_dni
from tests.firma.support import pdf_of_size
from tests.support import pki
from tests.support.live import RP_REDIRECT, create_client, free_port, start_idp

HEADER = "X-SSL-Client-Cert"  # IDP_CLIENT_CERT_HEADER's default, which the shipped file sets
ACTIVATION_CODE = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4})+$")
MISSING = "We did not receive a digital certificate."
UNTRUSTED = "This certificate was not issued by a recognised certification authority."

pytestmark = [
    pytest.mark.xdist_group("nginx"),
    pytest.mark.skipif(not Path(NGINX).exists() or shutil.which("curl") is None,
                       reason="needs Debian's nginx and curl (make test installs them)"),
]


@pytest.fixture(scope="module")
def tls() -> pki.Authority:
    """The CA of nginx's server certificates (curl trusts it)."""
    return pki.make_authority("Autoridad TLS de pruebas")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, tls: pki.Authority) -> Iterator[Deployment]:
    """nginx and one ``idp serve``, started once for the module."""
    folder = tmp_path_factory.mktemp("deployment")
    citizens_ca = make_dev_certificates(folder / "citizens", parse_document(new_dni()),
                                        given_name="Ana", surnames="Ruiz Sanz", password="demo").ca
    nginx_port = free_port()
    idp = start_idp(folder, IDP_ISSUER=f"https://{PUBLIC}:{nginx_port}", IDP_PROXY_COUNT="1",
                    IDP_SECURE_COOKIES="1", IDP_TRUSTED_PROXIES=PROXY_ADDRESS,
                    IDP_TRUSTED_CA_FILE=str(citizens_ca))
    try:
        nginx = start_nginx(folder / "nginx", nginx_port, idp.port, tls, citizens_ca)
    except BaseException:
        idp.stop()
        raise
    try:
        yield Deployment(idp, nginx_port, folder, write(folder / "tls-ca.pem", tls.pem()))
    finally:
        stop(nginx)
        idp.stop()


@pytest.fixture(scope="module")
def forwarded(deployment: Deployment, tls: pki.Authority) -> Iterator[tuple[Deployment, Recorder]]:
    """The same nginx configuration in front of a recorder instead of the IdP: what the IdP
    receives, header by header."""
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    port = free_port()
    nginx = start_nginx(deployment.folder / "nginx-recorded", port, recorder.server_address[1],
                        tls, deployment.folder / "citizens" / "ca.pem")
    try:
        yield Deployment(deployment.idp, port, deployment.folder, deployment.server_ca), recorder
    finally:
        stop(nginx)
        recorder.shutdown()
        recorder.server_close()


def form_token(page: Answer) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.body)
    assert found, page.body[:2000]
    return found.group(1)


def activation_code(page: Answer) -> str:
    return "-".join(re.findall(r'class="code-group">([^<]*)<', page.body))


def refused_certificates(deployment: Deployment) -> list[str]:
    rows = deployment.idp.query("SELECT detail FROM audit_events WHERE tag = 'certificate_refused'")
    return [str(row[0]) for row in rows]


def register(deployment: Deployment, holder: Holder, jar: Path) -> Answer:
    """The registration act through nginx, as a browser holding the certificate does it."""
    url = deployment.url(CERTIFICATE_HOST, "/register/certificate")
    page = deployment.curl(url, holder=holder, jar=jar)
    return deployment.curl(url, "--data-urlencode", f"csrf_token={form_token(page)}",
                           "--data-urlencode", "email=ainhoa@example.org",
                           "--data-urlencode", "phone=+34600333444",
                           "--data-urlencode", "contrast_data=01012031", holder=holder, jar=jar)


def stored_citizen(deployment: Deployment, document: str) -> tuple:
    return deployment.idp.query(
        "SELECT given_name, first_surname, second_surname, email, activation_code_hash "
        "FROM citizens WHERE document = :document", document=document)[0]


def test_a_citizen_registers_with_their_certificate_through_nginx(deployment):
    holder, jar = holder_of(deployment), deployment.folder / "register-cookies.txt"

    done = register(deployment, holder, jar)

    assert done.status == 200 and ACTIVATION_CODE.match(activation_code(done)), done.body[:2000]
    assert stored_citizen(deployment, holder.document)[:4] == (
        "Ainhoa", "Etxeberria", "Goñi", "ainhoa@example.org")
    # Secure cookies (IDP_SECURE_COOKIES=1) work: the IdP saw https through nginx.
    assert "__Host-idp_session" in jar.read_text()


def test_a_registered_citizen_gets_a_new_activation_code_through_nginx(deployment):
    holder, jar = holder_of(deployment), deployment.folder / "regenerate-cookies.txt"
    old_code = activation_code(register(deployment, holder, jar))
    old_hash = stored_citizen(deployment, holder.document)[4]
    url = deployment.url(CERTIFICATE_HOST, "/activation-code/regenerate")

    page = deployment.curl(url, holder=holder, jar=jar)
    done = deployment.curl(url, "--data-urlencode", f"csrf_token={form_token(page)}",
                           holder=holder, jar=jar)

    new_code = activation_code(done)
    assert done.status == 200 and ACTIVATION_CODE.match(new_code), done.body[:2000]
    assert new_code != old_code
    assert stored_citizen(deployment, holder.document)[4] != old_hash


def test_a_certificate_header_sent_straight_to_the_idp_is_ignored(deployment):
    holder = holder_of(deployment)
    before = len(refused_certificates(deployment))

    page = requests.get(f"{deployment.idp.url}/register/certificate", timeout=10, headers={
        HEADER: pki.escaped(certificate_of(holder)), "Accept-Language": "en"})

    assert page.status_code == 200 and MISSING in page.text
    assert holder.given_name not in page.text
    refused = refused_certificates(deployment)[before:]
    assert len(refused) == 1 and "untrusted_source" in refused[0] and "127.0.0.1" in refused[0]


def test_a_certificate_header_sent_through_nginx_is_replaced_by_what_nginx_received(deployment):
    holder, impostor = holder_of(deployment), holder_of(deployment, "Impostora", "Falsa Pérez")
    forged = ["-H", f"{HEADER}: {pki.escaped(certificate_of(impostor))}"]
    url = deployment.url(CERTIFICATE_HOST, "/register/certificate")

    without_certificate = deployment.curl(url, *forged)
    with_certificate = deployment.curl(url, *forged, holder=holder)

    assert without_certificate.status == 200 and MISSING in without_certificate.body
    assert "Impostora" not in without_certificate.body
    assert with_certificate.status == 200 and holder.given_name in with_certificate.body
    assert "Impostora" not in with_certificate.body


def test_the_public_host_sends_the_certificate_pages_to_the_certificate_host(deployment):
    for path in ("/register/certificate", "/activation-code/regenerate"):
        answer = deployment.curl(deployment.url(PUBLIC, path),
                                 "-H", f"{HEADER}: forged")
        assert answer.status == 302
        assert answer.headers["location"] == f"https://{CERTIFICATE_HOST}{path}"


def test_a_certificate_nginx_cannot_verify_reaches_the_idp_which_says_why(deployment):
    stranger_ca, key = pki.make_authority("AC desconocida"), ec.generate_private_key(ec.SECP256R1())
    certificate = stranger_ca.issue(serial_number=f"IDCES-{new_dni()}", key=key)
    cert = (write(deployment.folder / "stranger.pem", pki.pem(certificate)),
            write(deployment.folder / "stranger-key.pem", pki.key_pem(key)))

    page = deployment.curl(deployment.url(CERTIFICATE_HOST, "/register/certificate"), cert=cert)

    assert page.status == 400 and UNTRUSTED in page.body


@pytest.fixture(scope="module")
def client(deployment: Deployment) -> dict:
    """A relying party (``idp client create``): its id and secret."""
    return create_client(deployment.idp)


def test_the_protocol_is_served_over_https_through_nginx(deployment, client):
    credentials = f"{client['client_id']}:{client['client_secret']}"

    discovery = deployment.curl(deployment.url(PUBLIC, "/.well-known/openid-configuration"))
    token = deployment.curl(deployment.url(PUBLIC, "/token"), "-u", credentials,
                            "-d", "grant_type=authorization_code", "-d", "code=unknown")
    userinfo = deployment.curl(deployment.url(PUBLIC, "/userinfo"),
                               "-H", "Authorization: Bearer unknown")
    authorize = deployment.curl(deployment.url(PUBLIC, "/authorize?response_type=code&scope=openid"
                                               f"&client_id={client['client_id']}"
                                               "&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
                                               f"&code_challenge={'x' * 43}&code_challenge_method=S256"))

    assert f'"issuer": "https://{PUBLIC}:{deployment.port}"' in discovery.body
    assert token.status == 400 and '"invalid_grant"' in token.body  # the endpoint's own answer
    assert userinfo.status == 401 and "invalid_token" in userinfo.headers["www-authenticate"]
    assert authorize.status == 200 and 'action="/login"' in authorize.body  # the login page itself
    assert "strict-transport-security" in authorize.headers


def test_plain_http_straight_to_the_node_with_a_public_host_is_refused(deployment, client):
    answer = requests.post(f"{deployment.idp.url}/token", headers={"Host": PUBLIC}, timeout=10,
                           auth=(client["client_id"], client["client_secret"]),
                           data={"grant_type": "authorization_code", "code": "unknown"})

    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    assert "HTTPS" in answer.json()["error_description"]


def test_the_idp_receives_the_clients_scheme_host_and_address_whatever_the_client_claims(forwarded):
    through, recorder = forwarded
    claims = ["-H", "X-Forwarded-Proto: http", "-H", "X-Forwarded-Host: attacker.example",
              "-H", "X-Forwarded-For: 10.9.9.9"]

    assert through.curl(through.url(PUBLIC, "/login"), *claims).status == 200

    seen = recorder.seen[-1]
    assert (seen["host"], seen["x-forwarded-host"], seen["x-forwarded-proto"]) == (PUBLIC, PUBLIC, "https")
    # ProxyFix (IDP_PROXY_COUNT=1) takes the last address: the one nginx saw.
    assert seen["x-forwarded-for"].split(",")[-1].strip() == "127.0.0.1"


def test_nginx_passes_no_certificate_header_a_client_sends_to_the_public_host(forwarded):
    through, recorder = forwarded
    holder = holder_of(through)

    for path in ("/login", "/activate", "/register/certificate/"):
        through.curl(through.url(PUBLIC, path), "-H", f"{HEADER}: {pki.escaped(certificate_of(holder))}")
        assert HEADER.lower() not in recorder.seen[-1], path


def test_nginx_passes_the_certificate_it_received_and_only_that_one(forwarded):
    through, recorder = forwarded
    holder, impostor = holder_of(through), holder_of(through, "Impostora", "Falsa Pérez")
    forged = ["-H", f"{HEADER}: {pki.escaped(certificate_of(impostor))}"]
    url = through.url(CERTIFICATE_HOST, "/register/certificate")

    through.curl(url, *forged)
    assert HEADER.lower() not in recorder.seen[-1]
    through.curl(url, *forged, holder=holder)
    assert recorder.seen[-1][HEADER.lower()] == pki.escaped(certificate_of(holder))



def test_a_relying_party_sends_a_pdf_of_several_megabytes_to_sign_through_nginx(deployment, tmp_path):
    """nginx refuses a body over 1 MB unless told otherwise; Cl@ve Firma takes PDFs up to
    ``IDP_FIRMA_MAX_PDF_BYTES`` (10 MB), and only there."""
    rp = deployment.idp.cli_json("client", "create", "--name", "Sede", "--redirect-uri", RP_REDIRECT,
                                 "--signature")
    pdf = tmp_path / "contrato.pdf"
    pdf.write_bytes(pdf_of_size(6 * 1024 * 1024))

    asked = deployment.curl(deployment.url(PUBLIC, "/api/signature/v1/requests"), "-H", "Expect:",
                            "-u", f"{rp['client_id']}:{rp['client_secret']}", "-F", f"file=@{pdf}",
                            "-F", f"redirect_uri={RP_REDIRECT}", "-F", "state=s")
    elsewhere = deployment.curl(deployment.url(PUBLIC, "/token"), "-H", "Expect:", "-F", f"file=@{pdf}")

    assert asked.status == 201, asked.body[:300]
    assert elsewhere.status == 413  # nginx's own limit everywhere else
