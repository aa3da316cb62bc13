"""Requests the IdP itself sends to relying parties (their JWKS, their back-channel logout
receiver): the one place where it connects to addresses that someone else chose.

What this guards against is server-side request forgery: a registered URI, or a name that
later resolves elsewhere, pointing at the cloud metadata service, the database or a
neighbour's admin port; and a slow or endless answer holding a worker or its memory. So:

* https only. Plain http, and loopback addresses, only with the development switch
  (``IDP_DEV_LOOPBACK_CLIENT_URIS``) for demos and tests on 127.0.0.1.
* The host is looked up once; every address it resolves to must be public (not private,
  loopback, link-local, multicast, reserved, unspecified, carrier-grade NAT, nor one of
  those inside an IPv4-mapped, NAT64 or 6to4 address), and the connection goes to that
  checked address, so no second lookup can send it elsewhere (DNS rebinding). TLS still
  verifies the certificate against the name.
* No redirect is followed. The whole exchange, from the lookup to the last byte, has one
  deadline (a server sending one byte every few seconds is cut off), and a body is read
  in pieces and dropped as soon as it passes its cap.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlencode, urlsplit

DEADLINE_SECONDS = 3.0
MAX_URI_LENGTH = 2048
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """The request was not sent, or its answer did not arrive whole and in time."""


class RefusedUri(OutboundError):
    """The URI may not be called: its form, its scheme, or an address its host resolves to."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: list[tuple[int, tuple[Any, ...]]]  # (family, sockaddr), every one checked


def check_uri(uri: str, *, allow_loopback: bool) -> None:
    """Raise ``RefusedUri`` (its message says why) unless ``uri`` may be called now."""
    _target(uri, allow_loopback, time.monotonic() + DEADLINE_SECONDS)


def get(uri: str, *, allow_loopback: bool, max_bytes: int) -> Reply:
    return _exchange("GET", uri, None, {"Accept": "application/json"}, allow_loopback, max_bytes)


def post_form(uri: str, form: dict[str, str], *, allow_loopback: bool, max_bytes: int) -> Reply:
    return _exchange("POST", uri, urlencode(form).encode(),
                     {"Content-Type": "application/x-www-form-urlencoded"}, allow_loopback, max_bytes)


def _exchange(method: str, uri: str, body: bytes | None, headers: dict[str, str],
              allow_loopback: bool, max_bytes: int) -> Reply:
    deadline = time.monotonic() + DEADLINE_SECONDS
    target = _target(uri, allow_loopback, deadline)
    # The class only decides the default port left out of the Host header: the socket given
    # to it below is already connected (and, for https, verified).
    kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    connection = kind(target.host, target.port)
    try:
        connection.sock = _connect(target, deadline)
        connection.request(method, target.path, body=body,
                           headers={**headers, "User-Agent": "Clave-IdP", "Connection": "close"})
        response = connection.getresponse()
        return Reply(response.status, _read(response, max_bytes))
    except (OSError, http.client.HTTPException) as error:
        raise OutboundError(f"{method} {uri} failed: {error.__class__.__name__}") from error
    finally:
        connection.close()


def _target(uri: str, allow_loopback: bool, deadline: float) -> _Target:
    parts = _parse(uri)
    scheme, host = parts.scheme, parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    infos = _lookup(host, port, deadline)
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if not _allowed(address, allow_loopback):
            raise RefusedUri(f"resolves to {address}, which is not a public address")
    if scheme == "http" and not (allow_loopback and all(_is_loopback(a) for a in addresses)):
        raise RefusedUri("must use https")
    return _Target(scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                   [(info[0], info[4]) for info in infos])


def _parse(uri: str):  # type: ignore[no-untyped-def]
    if (not isinstance(uri, str) or len(uri) > MAX_URI_LENGTH or not uri.isascii()
            or any(c.isspace() or not c.isprintable() for c in uri)):
        raise RefusedUri("must be an absolute https URI of printable ASCII (a host in punycode)")
    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as error:
        raise RefusedUri("has an invalid port") from error
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RefusedUri("must be an absolute https URI")
    if "@" in parts.netloc:
        raise RefusedUri("must not carry a user name or password")
    if parts.fragment or uri.endswith("#"):
        raise RefusedUri("must not have a fragment")
    return parts


def _lookup(host: str, port: int, deadline: float) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` has no timeout of its own: it runs on a thread given what is left."""
    found: dict[str, Any] = {}

    def resolve() -> None:
        try:
            found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            found["error"] = error

    thread = threading.Thread(target=resolve, name="idp-lookup", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0))
    if thread.is_alive():
        raise OutboundError(f"has a host whose lookup took too long ({host})")
    if not found.get("infos"):
        raise RefusedUri(f"has a host that cannot be resolved ({host})")
    return found["infos"]


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_loopback(address: IPAddress) -> bool:
    embedded = _embedded_ipv4(address)
    return (embedded or address).is_loopback


def _allowed(address: IPAddress, allow_loopback: bool) -> bool:
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return _allowed(embedded, allow_loopback)
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not (
        address.is_private or address.is_multicast or address.is_reserved
        or address.is_link_local or address.is_unspecified
        or getattr(address, "is_site_local", False))


# -- sockets that keep the deadline: every read and write gets only the time that is left --

def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class _DeadlineSocket(socket.socket):
    deadline = float("inf")

    def recv_into(self, buffer, nbytes=0, flags=0):  # type: ignore[no-untyped-def]
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags=0):  # type: ignore[no-untyped-def]
        self.settimeout(_remaining(self.deadline))
        return super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    deadline = float("inf")

    def recv_into(self, buffer, nbytes=None, flags=0):  # type: ignore[no-untyped-def]
        self.settimeout(_remaining(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags=0):  # type: ignore[no-untyped-def]
        self.settimeout(_remaining(self.deadline))
        return super().sendall(data, flags)


@cache
def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.sslsocket_class = _DeadlineSSLSocket
    return context


def _connect(target: _Target, deadline: float) -> socket.socket:
    """To the first checked address that answers (a host may publish IPv6 addresses this
    server cannot reach), then TLS against the name."""
    for family, sockaddr in target.addresses[:-1]:
        with contextlib.suppress(OSError):
            return _connect_to(target, family, sockaddr, deadline)
    return _connect_to(target, *target.addresses[-1], deadline)


def _connect_to(target: _Target, family: int, sockaddr: tuple[Any, ...], deadline: float) -> socket.socket:
    sock = _DeadlineSocket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(_remaining(deadline))
        sock.connect(sockaddr)
        sock.deadline = deadline
        if target.scheme == "http":
            return sock
        sock.settimeout(_remaining(deadline))  # the handshake as a whole
        tls = _tls_context().wrap_socket(sock, server_hostname=target.host)
        tls.deadline = deadline  # type: ignore[attr-defined]
        return tls
    except BaseException:
        sock.close()
        raise


def _read(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise OutboundError(f"answer of {declared} bytes, more than {max_bytes}")
    chunks, size = [], 0
    while chunk := response.read(min(65536, max_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise OutboundError(f"answer of more than {max_bytes} bytes")
    return b"".join(chunks)
