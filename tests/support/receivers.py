"""Small HTTP servers on 127.0.0.1 standing in for a relying party's endpoints (its JWKS, its
back-channel logout receiver), well-behaved or not, recording every request they get.

The IdP refuses loopback URIs unless ``IDP_DEV_LOOPBACK_CLIENT_URIS`` is on: tests that
register one of these servers turn it on with ``allow_loopback_uris``.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from flask import Flask, current_app

Respond = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Receiver:
    url: str
    port: int = 0
    bodies: list[dict[str, list[str]]] = field(default_factory=list)
    hits: int = 0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        """True once ``count`` requests have arrived (an event, not a sleep)."""
        with self.arrived:
            return self.arrived.wait_for(lambda: self.hits >= count, timeout)


@contextmanager
def serving(respond: Respond, path: str = "/", port: int = 0,
            tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = parse_qs(self.rfile.read(length).decode()) if length else {}
            with receiver.arrived:
                receiver.hits += 1
                receiver.bodies.append(body)
                receiver.arrived.notify_all()
            try:
                respond(self)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the IdP hung up: what a deadline or a size cap does

        do_GET = do_POST = _handle  # noqa: N815 - http.server's naming

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    receiver.port = server.server_address[1]
    receiver.url = f"{'https' if tls else 'http'}://127.0.0.1:{receiver.port}{path}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def answer(status: int = 200, payload: Any = None) -> Respond:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(payload).encode() if payload is not None else b""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return respond


def drip(interval: float, lasting: float = 30) -> Respond:
    """A valid start, then one byte every ``interval`` seconds: never a read timeout, and no
    length announced that a size check could refuse first."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(b'{"keys": [')
        handler.wfile.flush()
        stop = time.monotonic() + lasting
        while time.monotonic() < stop:
            time.sleep(interval)
            handler.wfile.write(b" ")
            handler.wfile.flush()

    return respond


class Flood:
    """A body of ``size`` bytes, counting what the IdP accepted before hanging up; its length
    announced or not (then only reading it tells)."""

    def __init__(self, size: int, *, announced: bool) -> None:
        self.size = size
        self.announced = announced
        self.sent = 0

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if self.announced:
            handler.send_header("Content-Length", str(self.size))
        handler.end_headers()
        chunk = b" " * 65536
        while self.sent < self.size:
            handler.wfile.write(chunk)
            self.sent += len(chunk)


class Held:
    """A relying party that answers only once the test releases it (a slow receiver)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.answered = False

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        self.released.wait(30)
        answer(200)(handler)
        self.answered = True


def allow_loopback_uris(app: Flask) -> None:
    """Turn the development switch on for the served app and the test's own (twin) app."""
    app.config["IDP_DEV_LOOPBACK_CLIENT_URIS"] = True
    current_app.config["IDP_DEV_LOOPBACK_CLIENT_URIS"] = True
