"""Real servers for end-to-end and interoperability tests: ``idp init`` + ``idp serve``
(the default server unless told) in a subprocess, on a free loopback port, with its own
database and keys; and the demo relying party (``idp-demo-rp``) registered with such an IdP."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests

from idp.serving import DEFAULT_SERVER
from tests.support.postgres import PostgresServer, worker

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:  # refused, or accepted while workers still boot
            time.sleep(0.1)
    process.terminate()
    process.wait(timeout=15)
    raise TimeoutError(url)


@dataclass
class LiveIdp:
    base: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    server: str = DEFAULT_SERVER
    process: subprocess.Popen | None = None
    log: IO[str] | None = None
    access_log: IO[str] | None = None
    own_database: tuple[PostgresServer, str] | None = None
    # The name browsers use for it: ``localhost`` for WebAuthn, which refuses an IP address
    # as relying party ID (the server listens on 127.0.0.1 either way).
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """Where this node listens (the issuer may name another node)."""
        return f"http://{self.host}:{self.port}"

    @property
    def sms_file(self) -> Path:
        return self.base / "sms.jsonl"

    def cli(self, *args: str) -> str:
        """``idp ARGS`` on this server's database, keys and settings: the command's own code,
        run in this process (as ``idp``'s console script does: in the server's folder, umask
        077), without the second or so a new Python pays to import the app."""
        return run_idp_command(self.env, self.base, *args)

    def cli_json(self, *args: str) -> dict:
        return json.loads(self.cli(*args, "--json"))

    def execute(self, statement: str, **params: object) -> int:
        """Run one SQL statement on this server's own database (to set up what no page can,
        such as a two-year-old password); the number of rows it changed."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.env["IDP_DATABASE_URL"])
        try:
            with engine.begin() as connection:
                return connection.execute(sqlalchemy.text(statement), params).rowcount
        finally:
            engine.dispose()

    def scalar(self, query: str, **params: object) -> object:
        """The first value one SQL query finds in this server's own database."""
        rows = self.query(query, **params)
        return rows[0][0] if rows else None

    def query(self, statement: str, **params: object) -> list[tuple]:
        """The rows one SQL query returns from this server's own database."""
        import sqlalchemy

        engine = sqlalchemy.create_engine(self.env["IDP_DATABASE_URL"])
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(sqlalchemy.text(statement), params)]
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Stop the server; the node that created a PostgreSQL database also drops it."""
        _stop(self.process, self.log)
        if self.access_log:
            self.access_log.close()
        if self.own_database is not None:
            server, name = self.own_database
            server.drop(name)
            server.close()
            self.own_database = None


def run_idp_command(env: dict[str, str], cwd: Path, *args: str) -> str:
    """What ``idp ARGS`` prints, run in-process with ``env`` and ``cwd``; raises as
    ``check=True`` would when the command fails."""
    import logging

    from click.testing import CliRunner

    from idp.cli import main

    settings = {name: value for name, value in env.items() if name.startswith("IDP_")}
    # Only the command's settings: none of this process's own IDP_* leaks in.
    unset = {name: None for name in os.environ if name.startswith("IDP_") and name not in settings}
    logger = logging.getLogger("idp")
    handlers = list(logger.handlers)  # the command's app logs to the runner's stderr
    umask = os.umask(0o077)
    try:
        with contextlib.chdir(cwd):
            result = CliRunner().invoke(main, list(args), env={**settings, **unset},
                                        catch_exceptions=False)
    finally:
        os.umask(umask)
        logger.handlers = handlers
    if result.exit_code != 0:
        raise subprocess.CalledProcessError(result.exit_code, ["idp", *args], result.stdout,
                                            result.stderr)
    return result.stdout


def stop_all(*servers: LiveIdp | LiveDemoRp) -> None:
    """Stop several servers together: all are told to stop before any is waited for, so that
    their graceful stops overlap instead of following one another."""
    running = [server.process for server in servers if server.process and server.process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    for server in servers:
        server.stop()  # what is left: logs, databases


def _stop(process: subprocess.Popen | None, log: IO[str] | None) -> None:
    """Terminate (the server's graceful stop), kill if it will not go, and close the log."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
    if log:
        log.close()


def _database_url(idp: LiveIdp, base: Path) -> str:
    """SQLite in the server's folder, or an empty database on the test PostgreSQL server
    when the suite runs against one (``scripts/with-postgres.sh``)."""
    server = PostgresServer.from_environment()
    if server is None:
        return f"sqlite:///{base / 'idp.sqlite3'}"
    name = f"live_{worker()}_{idp.port}"
    idp.own_database = (server, name)
    return server.create(name)


def start_idp(base: Path, workers: int = 1, share_with: LiveIdp | None = None,
              server: str = DEFAULT_SERVER, host: str = "127.0.0.1", **settings: str) -> LiveIdp:
    """A server on a free port, known to browsers as ``host``; ``share_with`` another one's
    database, keys, secret and issuer, as two nodes behind one load balancer. Its log and
    access log are files in ``base``: ``idp-PORT.log`` and ``access-PORT.log``."""
    port = free_port()
    idp = LiveIdp(base, port, server=server, host=host)
    if share_with is not None:
        idp.env = {**share_with.env, **settings}
        idp.base = share_with.base
    else:
        idp.env = {
            **os.environ,
            "IDP_ISSUER": idp.url,
            "IDP_DATABASE_URL": _database_url(idp, base),
            "IDP_KEYS_DIR": str(base / "keys"),
            "IDP_SECRET_KEY": "live-test-secret",
            "IDP_SMS_BACKEND": f"file:{idp.sms_file}",
            "IDP_ARGON2_MEMORY_KIB": "1024",
            "IDP_ARGON2_TIME_COST": "1",
            **settings,
        }
        idp.cli("init")
    idp.log = (base / f"idp-{port}.log").open("w")
    idp.access_log = (base / f"access-{port}.log").open("w")
    idp.process = subprocess.Popen(
        [str(BIN / "idp"), "serve", "--port", str(port), "--workers", str(workers),
         "--server", server],
        env=idp.env, cwd=idp.base, stdout=idp.access_log, stderr=idp.log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", idp.process)
    except (RuntimeError, TimeoutError):
        idp.stop()
        raise
    return idp


def register_citizen(idp: LiveIdp, document: str, password: str, **fields: str) -> str:
    """Office registration act + activation over HTTP is what e2e tests do; this shortcut
    registers through the CLI and returns the activation code."""
    args = ["citizen", "register", "--document", document,
            "--given-name", fields.get("given_name", "Lucía"),
            "--first-surname", fields.get("first_surname", "Martín"),
            "--second-surname", fields.get("second_surname", "Ortega"),
            "--email", fields.get("email", "lucia@example.org"),
            "--phone", fields.get("phone", "+34600111222"),
            "--contrast-data", fields.get("contrast_data", "01012031")]
    return idp.cli_json(*args)["activation_code"]


# An RP's redirect URI where nothing listens: redirects are read, never followed.
RP_REDIRECT = "http://127.0.0.1:9/cb"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"


def create_client(idp: LiveIdp, name: str = "Sede", acr: str = SUBSTANTIAL) -> dict:
    """``idp client create`` for an RP at ``RP_REDIRECT``: its id and secret."""
    return idp.cli_json("client", "create", "--name", name, "--redirect-uri", RP_REDIRECT,
                        "--default-acr", acr)


def authorize(session: requests.Session, idp: LiveIdp, client_id: str, *,
              code_challenge: str = "x" * 43, follow: bool = True, **params: str) -> requests.Response:
    """The RP's authorization request (PKCE S256), followed to the login page unless
    ``follow`` is false."""
    return session.get(f"{idp.url}/authorize", timeout=10, allow_redirects=follow, params={
        "response_type": "code", "client_id": client_id, "redirect_uri": RP_REDIRECT,
        "scope": "openid", "code_challenge": code_challenge, "code_challenge_method": "S256",
        **params})


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_post(session: requests.Session, page: requests.Response, url: str, *,
              follow: bool = True, **fields: str) -> requests.Response:
    """Submit a form of ``page`` over HTTP with its CSRF token (and hidden ``ir``)."""
    data = {"csrf_token": _CSRF.search(page.text).group(1), **fields}  # type: ignore[union-attr]
    ir = re.search(r'name="ir" value="([^"]*)"', page.text)
    if ir and "ir" not in fields:
        data["ir"] = ir.group(1)
    return session.post(url, data=data, timeout=10, allow_redirects=follow)


def activate(idp: LiveIdp, document: str, activation_code: str, password: str,
             email: str = "lucia@example.org") -> None:
    """Activation through the real forms over HTTP: details → SMS code → password."""
    from idp.sms import latest_code

    with requests.Session() as session:
        page = session.get(f"{idp.url}/activate", timeout=10)
        page = form_post(session, page, f"{idp.url}/activate", document=document, email=email,
                         activation_code=activation_code)
        page = form_post(session, page, f"{idp.url}/activate/otp", otp=latest_code(idp.sms_file) or "")
        done = form_post(session, page, f"{idp.url}/activate/password", new_password=password,
                         new_password_confirm=password)
        assert done.status_code == 200, done.text[:500]


def active_citizen(idp: LiveIdp, document: str, password: str) -> None:
    activate(idp, document, register_citizen(idp, document, password), password)


@dataclass
class LiveDemoRp:
    """The demo relying party served by ``idp-demo-rp``, registered as a client of an IdP."""

    port: int
    name: str
    client_id: str
    process: subprocess.Popen | None = None
    log: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        _stop(self.process, self.log)


def start_demo_rp(base: Path, idp: LiveIdp, name: str = "Ayuntamiento de Ejemplo",
                  default_acr: str = "http://eidas.europa.eu/LoA/substantial") -> LiveDemoRp:
    """Register the demo RP with ``idp client create`` (exact redirect URIs on a free port)
    and serve it there, configured only through its ``DEMO_RP_*`` environment."""
    port = free_port()
    rp_url = f"http://127.0.0.1:{port}"
    client = idp.cli_json("client", "create", "--name", name,
                          "--redirect-uri", f"{rp_url}/callback",
                          "--redirect-uri", f"{rp_url}/signed", "--signature",
                          "--post-logout-redirect-uri", f"{rp_url}/logged-out",
                          "--default-acr", default_acr)
    rp = LiveDemoRp(port, name, client["client_id"])
    env = {**os.environ,
           "DEMO_RP_ISSUER": idp.url,
           "DEMO_RP_BASE_URL": rp_url,
           "DEMO_RP_CLIENT_ID": client["client_id"],
           "DEMO_RP_CLIENT_SECRET": client["client_secret"],
           "DEMO_RP_CLIENT_FILE": str(base / "no-client-file.json")}
    rp.log = (base / f"demo-rp-{port}.log").open("w")
    rp.process = subprocess.Popen(
        [str(BIN / "idp-demo-rp"), "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=base, stdout=rp.log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(rp_url + "/", rp.process)
    except (RuntimeError, TimeoutError):
        rp.stop()
        raise
    return rp
