"""The certificate a citizen presented, as the TLS terminator passed it to us.

In production nginx (or another terminator) asks the browser for a client certificate and
forwards it, URL-encoded, in the header named by ``IDP_CLIENT_CERT_HEADER``. Anybody can
send that header, so it counts only when the request's *direct* peer is one of
``IDP_TRUSTED_PROXIES``; and even then we verify the certificate against
``IDP_TRUSTED_CA_FILE`` ourselves (see docs/deployment.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, render_template, request

from idp import certificates
from idp.audit import EventTag, record_event
from idp.certificates import CertificateIdentity, CertificateRefused
from idp.clock import clock

log = logging.getLogger("idp.certificates")
_ANCHORS = "idp.certificate_anchors"
_PROXIES = "idp.trusted_proxies"


def init_app(app: Flask) -> None:
    """Fail at start-up, not at the first citizen, on a mistyped ``IDP_TRUSTED_PROXIES``."""
    app.extensions[_PROXIES] = certificates.parse_networks(app.config["IDP_TRUSTED_PROXIES"])


def direct_peer() -> str | None:
    """The address of whoever opened the connection to us. With ``IDP_PROXY_COUNT`` set,
    ProxyFix has replaced REMOTE_ADDR by the client's address from X-Forwarded-For and
    kept the original aside: the peer is that original, never a forwarded claim."""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")


def presented() -> CertificateIdentity | None:
    """The verified identity of the presented certificate; None when none was presented
    (or the header came from an address not trusted to send it). Raises
    ``CertificateRefused``. Audits once per request."""
    if "certificate" not in g:
        g.certificate = _read()
    outcome = g.certificate
    if isinstance(outcome, CertificateRefused):
        raise outcome
    return outcome


def _read() -> CertificateIdentity | CertificateRefused | None:
    value = request.headers.get(current_app.config["IDP_CLIENT_CERT_HEADER"], "")
    if not value.strip():
        return None
    peer = direct_peer()
    if not certificates.is_trusted_peer(peer, current_app.extensions[_PROXIES]):
        # Nobody legitimate sends this header from there: someone is trying to pass a
        # certificate they do not hold. The page answers as if no certificate came.
        record_event(EventTag.CERTIFICATE_REFUSED, reason="untrusted_source", peer=peer)
        return None
    try:
        identity = certificates.verify(certificates.decode_header(value), _anchors(), clock.now())
    except CertificateRefused as refused:
        record_event(EventTag.CERTIFICATE_REFUSED, reason=refused.reason,
                     fingerprint=refused.fingerprint)
        return refused
    return identity


def _anchors() -> list:  # type: ignore[type-arg]
    """The trusted CAs, re-read when the file changes (CA bundles are renewed in place)."""
    path = current_app.config["IDP_TRUSTED_CA_FILE"]
    if not path:
        return []
    try:
        stamp = (path, Path(path).stat().st_mtime_ns)
        cached = current_app.extensions.get(_ANCHORS)
        if cached is None or cached[0] != stamp:
            cached = (stamp, certificates.load_trust_anchors(Path(path).read_bytes()))
            current_app.extensions[_ANCHORS] = cached
    except (OSError, ValueError):
        log.error("IDP_TRUSTED_CA_FILE %s cannot be read as a PEM bundle: no certificate is trusted",
                  path)
        return []
    return cached[1]


def holder_or_refusal(page: str) -> tuple[CertificateIdentity | None, Any]:
    """The verified certificate holder, or the page refusing (or asking for) a certificate.

    Exactly one of the two is not None.
    """
    try:
        holder = presented()
    except CertificateRefused as refused:
        return None, (render_template(page, problem=refused.reason), 400)
    if holder is None:
        return None, (render_template(page, problem="certificate_missing"),
                      400 if request.method == "POST" else 200)
    return holder, None
