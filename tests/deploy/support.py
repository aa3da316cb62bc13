"""Debian's nginx running the shipped configuration (deploy/nginx/clave-idp.conf) for the
tests: unprivileged, on a free port, with its prefix, temporary paths, pid and logs in the
test's folder; curl through it by the hosts' names; an upstream that records what nginx
forwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509

from idp.dev_certificates import DevFiles, make_dev_certificates
from idp.documents import parse_document
from tests.factories import new_dni
from tests.support import pki
from tests.support.live import LiveIdp

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "nginx" / "clave-idp.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PUBLIC = "clave.example.gob.es"
CERTIFICATE_HOST = "certificado.clave.example.gob.es"
# nginx connects to idp serve from here, the one address IDP_TRUSTED_PROXIES names; the
# tests' own requests come from 127.0.0.1, like any other client's.
PROXY_ADDRESS = "127.0.0.2"


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


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def filled_in(prefix: Path, nginx_port: int, idp_port: int) -> str:
    """The shipped file with the places a deployer fills in filled in for this machine."""
    text = SHIPPED.read_text()
    for placeholder, value in (("10.0.0.5:8000", f"127.0.0.1:{idp_port}"),
                               ("listen 443 ssl;", f"listen 127.0.0.1:{nginx_port} ssl;"),
                               ("/etc/nginx/clave/", f"{prefix}/")):
        assert placeholder in text, placeholder
        text = text.replace(placeholder, value)
    return text


def nginx_conf(prefix: Path) -> str:
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


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
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
        write(prefix / f"{name}.pem", pki.pem(certificate))
        write(prefix / f"{name}-key.pem", pki.key_pem(key))
    shutil.copy(trusted_cas, prefix / "trusted-cas.pem")
    (prefix / "clave-idp.conf").write_text(filled_in(prefix, port, upstream))
    (prefix / "nginx.conf").write_text(nginx_conf(prefix))
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, nginx, prefix / "error.log")
    except (RuntimeError, TimeoutError):
        stop(nginx)
        raise
    return nginx


def stop(nginx: subprocess.Popen) -> None:
    nginx.terminate()
    nginx.wait(timeout=15)


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


def holder_of(deployment: Deployment, given_name: str = "Ainhoa",
              surnames: str = "Etxeberria Goñi") -> Holder:
    """A new citizen's certificate from the citizens' CA (the one nginx and the IdP trust)."""
    document = new_dni()
    files = make_dev_certificates(deployment.folder / "citizens", parse_document(document),
                                  given_name=given_name, surnames=surnames, password="demo")
    return Holder(document, given_name, files)


def certificate_of(holder: Holder) -> x509.Certificate:
    return x509.load_pem_x509_certificate(holder.files.certificate.read_bytes())
