"""The load generator's client side: a minimal HTTP/1.1 client and the SMS file reader.

Every request asks for ``Connection: close``, so every request is one short TCP
connection. A few socket calls per request keep the generator's own CPU small; it shares
the machine's cores with the server it measures, so a heavy client would cap the figures.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path
from urllib.parse import urlencode

_CODE_RUN = re.compile(r"(?<!\d)\d{6}(?!\d)")


class HttpError(Exception):
    pass


def build_request(host: str, port: int, method: str, path: str, *,
                  headers: dict[str, str] | None = None, form: dict[str, str] | None = None) -> bytes:
    """The bytes of one request, prepared once and sent as many times as needed."""
    body = urlencode(form).encode() if form is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
             "User-Agent: clave-bench"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if form is not None:
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def send(host: str, port: int, raw: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send a prepared request; the status code and the body (read until the server closes)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head[9:12])
    except ValueError as error:
        raise HttpError(f"malformed response: {head[:40]!r}") from error
    return status, body


class SmsTail:
    """Follows the file SMS backend: the newest code per phone, reading only new lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._codes: dict[str, str] = {}
        self._lock = threading.Lock()

    def _read_new(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                message = json.loads(line)
                runs = _CODE_RUN.findall(message["text"])
                if len(runs) == 1:
                    self._codes[message["to"]] = runs[0]

    def take(self, phone: str) -> str | None:
        """The code last sent to ``phone``, once: a second take waits for a new SMS."""
        with self._lock:
            self._read_new()
            return self._codes.pop(phone, None)
