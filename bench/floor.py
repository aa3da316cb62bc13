"""The serving floor: what ``idp serve``'s server (granian by default, gunicorn on
request), its workers configured as ``idp serve`` configures them, and Flask cost before
any IdP code runs. A small-document GET can go no faster than this, so the discovery and
JWKS figures are read against it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests
from flask import Flask

from bench.deploy import children, cpu_seconds, free_port
from idp.serving import (
    DEFAULT_SERVER,
    GRACEFUL_TIMEOUT,
    THREADS,
    WORKER_OPTIONS,
    AccessLog,
    as_gunicorn_would,
)

BODY = b'{"keys": []}'


def plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]


flask_app = Flask(__name__)


@flask_app.get("/")
def _hello():  # type: ignore[no-untyped-def]
    return flask_app.response_class(BODY, mimetype="application/json")


# Under granian ``idp serve`` writes the access line and mends the environ in Python.
logged_plain = AccessLog(as_gunicorn_would(plain))
logged_flask_app = AccessLog(as_gunicorn_would(flask_app))


def command(app: str, workers: int, port: int, server: str) -> list[str]:
    """The server's command line for ``bench.floor:APP`` with ``idp serve``'s options."""
    binary = str(Path(sys.executable).parent / server)
    if server == "granian":
        return [binary, "--interface", "wsgi", "--http", "1", "--no-ws", "--workers", str(workers),
                "--blocking-threads", str(THREADS), "--workers-kill-timeout", str(GRACEFUL_TIMEOUT),
                "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", f"bench.floor:logged_{app}"]
    return [binary, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--access-logfile", "-",
            "--no-control-socket", "--worker-class", WORKER_OPTIONS["worker_class"],
            "--threads", str(WORKER_OPTIONS["threads"]), "--timeout", str(WORKER_OPTIONS["timeout"]),
            f"bench.floor:{app}"]


class FloorServer:
    """``plain`` or ``flask_app`` under ``server`` with ``idp serve``'s worker options and
    an access log on stdout."""

    def __init__(self, app: str, workers: int, server: str = DEFAULT_SERVER) -> None:
        self.port = free_port()
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(  # noqa: S603 - the venv's server
            command(app, workers, self.port, server),
            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/", timeout=2).status_code == 200 \
                        and len(children(self.process.pid)) == workers:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(app)

    def cpu(self) -> float:
        return cpu_seconds([self.process.pid, *children(self.process.pid)])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
