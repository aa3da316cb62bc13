"""The nginx configuration we ship (deploy/nginx/clave-idp.conf, explained in
docs/deployment.md) in front of a real ``idp serve``: Debian's nginx, unprivileged, on a free
port, with everything it writes under the test's folder; TLS from a test CA, and
``ssl_verify_client optional`` with the CA of the citizens' test certificates.

Through it, with real curl, a citizen registers with a certificate and gets a new activation
code; a certificate header sent straight to the IdP is ignored, and one a client sends
through nginx is replaced by what nginx itself received. The protocol is served over https
through nginx, and plain HTTP straight to the node with a public Host is refused.

nginx connects to ``idp serve`` from 127.0.0.2, the one address ``IDP_TRUSTED_PROXIES``
names; the test's own requests come from 127.0.0.1, like any other client."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from idp.dev_certificates import DevFiles, make_dev_certificates
from idp.documents import parse_document
from tests.factories import new_dni
from tests.support import pki
from tests.support.live import LiveIdp, create_client, free_port, start_idp

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "nginx" / "clave-idp.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PUBLIC = "clave.example.gob.es"
CERTIFICATE_HOST = "certificado.clave.example.gob.es"
PROXY_ADDRESS = "127.0.0.2"
HEADER = "X-SSL-Client-Cert"
ACTIVATION_CODE = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4})+$")
MISSING = "We did not receive a digital certificate."
UNTRUSTED = "This certificate was not issued by a recognised certification authority."

pytestmark = [
    pytest.mark.xdist_group("nginx"),
    pytest.mark.skipif(not Path(NGINX).exists() or shutil.which("curl") is None,
                       reason="needs Debian's nginx and curl (make test installs them)"),
]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Holder:
    """A citizen's certificate: the files curl presents, and the name on it."""

    document: str
    given_name: str
    files: DevFiles


@dataclass
class Deployment:
    idp: LiveIdp
    port: int  # nginx's
    folder: Path
    server_ca: Path

    def url(self, host: str, path: str) -> str:
        return f"https://{host}:{self.port}{path}"

    def curl(self, url: str, *args: str, holder: Holder | None = None, jar: Path | None = None,
             cert: tuple[Path, Path] | None = None) -> Answer:
        """One request as a browser (or RP) makes it, through nginx, by the host's name."""
        command = ["curl", "-sS", "-i", "--max-time", "20", "--cacert", str(self.server_ca),
                   "--resolve", f"{PUBLIC}:{self.port}:127.0.0.1",
                   "--resolve", f"{CERTIFICATE_HOST}:{self.port}:127.0.0.1",
                   "-H", "Accept-Language: en"]
        if holder is not None:
            cert = (holder.files.certificate, holder.files.key)
        if cert is not None:
            command += ["--cert", str(cert[0]), "--key", str(cert[1])]
        if jar is not None:
            command += ["-c", str(jar), "-b", str(jar)]
        done = subprocess.run([*command, *args, url], capture_output=True, text=True, timeout=30,
                              check=True)
        head, _, body = done.stdout.partition("\n\n")  # text mode: CRLF read as \n
        status_line, *lines = head.split("\n")
        headers = {name.lower(): value.strip() for name, _, value in
                   (line.partition(":") for line in lines)}
        return Answer(int(status_line.split()[1]), headers, body)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _filled_in(prefix: Path, nginx_port: int, idp_port: int) -> str:
    """The shipped file with the places a deployer fills in filled in for this machine."""
    text = SHIPPED.read_text()
    for placeholder, value in (("10.0.0.5:8000", f"127.0.0.1:{idp_port}"),
                               ("listen 443 ssl;", f"listen 127.0.0.1:{nginx_port} ssl;"),
                               ("/etc/nginx/clave/", f"{prefix}/")):
        assert placeholder in text, placeholder
        text = text.replace(placeholder, value)
    return text


def _nginx_conf(prefix: Path) -> str:
    """The main configuration around the shipped file: nothing outside ``prefix`` (Debian's
    nginx would write under /var/lib/nginx and /run), and no user change (under root, as
    in a container, the workers keep root's identity to read the test's folder)."""
    user = "user root root;" if os.geteuid() == 0 else ""
    temp = "\n".join(f"    {kind}_temp_path {prefix}/{kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
{temp}
    # nginx connects to idp serve from the one address IDP_TRUSTED_PROXIES names.
    proxy_bind {PROXY_ADDRESS};
    include {prefix}/clave-idp.conf;
}}
"""


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(log.read_text())


def start_nginx(prefix: Path, port: int, upstream: int, tls: pki.Authority, trusted_cas: Path,
                ) -> subprocess.Popen:
    """The shipped file, filled in, served by nginx on ``port`` in front of ``upstream``."""
    prefix.mkdir()
    certificate, key = tls.server(PUBLIC, CERTIFICATE_HOST)
    for name in ("public", "certificado"):
        _write(prefix / f"{name}.pem", pki.pem(certificate))
        _write(prefix / f"{name}-key.pem", pki.key_pem(key))
    shutil.copy(trusted_cas, prefix / "trusted-cas.pem")
    (prefix / "clave-idp.conf").write_text(_filled_in(prefix, port, upstream))
    (prefix / "nginx.conf").write_text(_nginx_conf(prefix))
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, nginx, prefix / "error.log")
    except (RuntimeError, TimeoutError):
        stop(nginx)
        raise
    return nginx


def stop(nginx: subprocess.Popen) -> None:
    nginx.terminate()
    nginx.wait(timeout=15)


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
        yield Deployment(idp, nginx_port, folder, _write(folder / "tls-ca.pem", tls.pem()))
    finally:
        stop(nginx)
        idp.stop()


class Recorder(ThreadingHTTPServer):
    """An upstream that records the headers of each request it receives."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Record)
        self.seen: list[dict[str, str]] = []


class _Record(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.server.seen.append({name.lower(): value for name, value in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


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


def holder_of(deployment: Deployment, given_name: str = "Ainhoa",
              surnames: str = "Etxeberria Goñi") -> Holder:
    """A new citizen's certificate from the citizens' CA (the one nginx and the IdP trust)."""
    document = new_dni()
    files = make_dev_certificates(deployment.folder / "citizens", parse_document(document),
                                  given_name=given_name, surnames=surnames, password="demo")
    return Holder(document, given_name, files)


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
        HEADER: pki.escaped(_certificate(holder)), "Accept-Language": "en"})

    assert page.status_code == 200 and MISSING in page.text
    assert holder.given_name not in page.text
    refused = refused_certificates(deployment)[before:]
    assert len(refused) == 1 and "untrusted_source" in refused[0] and "127.0.0.1" in refused[0]


def test_a_certificate_header_sent_through_nginx_is_replaced_by_what_nginx_received(deployment):
    holder, impostor = holder_of(deployment), holder_of(deployment, "Impostora", "Falsa Pérez")
    forged = ["-H", f"{HEADER}: {pki.escaped(_certificate(impostor))}"]
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
    cert = (_write(deployment.folder / "stranger.pem", pki.pem(certificate)),
            _write(deployment.folder / "stranger-key.pem", pki.key_pem(key)))

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
    assert authorize.status == 302 and authorize.headers["location"].startswith("/login")
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
        through.curl(through.url(PUBLIC, path), "-H", f"{HEADER}: {pki.escaped(_certificate(holder))}")
        assert HEADER.lower() not in recorder.seen[-1], path


def test_nginx_passes_the_certificate_it_received_and_only_that_one(forwarded):
    through, recorder = forwarded
    holder, impostor = holder_of(through), holder_of(through, "Impostora", "Falsa Pérez")
    forged = ["-H", f"{HEADER}: {pki.escaped(_certificate(impostor))}"]
    url = through.url(CERTIFICATE_HOST, "/register/certificate")

    through.curl(url, *forged)
    assert HEADER.lower() not in recorder.seen[-1]
    through.curl(url, *forged, holder=holder)
    assert recorder.seen[-1][HEADER.lower()] == pki.escaped(_certificate(holder))


def _certificate(holder: Holder):  # type: ignore[no-untyped-def]
    from cryptography import x509

    return x509.load_pem_x509_certificate(holder.files.certificate.read_bytes())
