"""How a request reached the IdP, decided in one place.

Every address the IdP gives out comes from ``IDP_ISSUER`` (discovery, ``iss``,
``web.public_url``), never from the request. The scheme, host and client address a request
came with are the HTTP server's, or, with ``IDP_PROXY_COUNT`` proxies trusted in front, what
those proxies forwarded (``X-Forwarded-Proto``, ``-Host`` and ``-For``, through Werkzeug's
ProxyFix, installed here): whatever reads them afterwards (Authlib's request URL, the access
log, the rate limits' address) reads what ProxyFix left in the WSGI environ.

The protocol's endpoints carry client secrets, codes, tokens and device proofs, and
RFC 6749 (§3.1, §3.2) requires TLS for them. A request to one of them must have come over
HTTPS, as the server or a trusted proxy says, except on loopback, where development runs:
the rule Authlib applies, applied here first, so that Authlib's own check never refuses
(and is answered the same way if it ever does). The refusal is a 400 naming the cause, and
the log says once per process what the deployer most likely has to change.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, make_response, render_template, request

from idp.web import JSON_PATHS

log = logging.getLogger("idp.transport")

REFUSAL = "This endpoint must be reached over HTTPS; the request came over plain HTTP."
_EXPLAINED = "idp.transport.explained"
_ANY_TRANSPORT = "_served_over_any_transport"
View = TypeVar("View", bound=Callable[..., Any])


def trust_proxies(app: Flask) -> None:
    """Take the scheme, host and client address from the ``IDP_PROXY_COUNT`` proxies in
    front. Call it last: outermost, every layer (the published documents too) sees them."""
    count = app.config["IDP_PROXY_COUNT"]
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def require_https(blueprint: Blueprint) -> None:
    """Refuse plain HTTP, but on loopback, on every route of ``blueprint`` save those marked
    ``any_transport``: a route added later is protected without anyone thinking of it."""

    @blueprint.before_request
    def _refuse_plain_http() -> Response | None:
        view = current_app.view_functions.get(request.endpoint or "")
        if getattr(view, _ANY_TRANSPORT, False) or arrived_securely():
            return None
        return refusal()


def any_transport(view: View) -> View:
    """Mark a public document (discovery, keys, the API's description) to be served over
    plain HTTP too, on a blueprint that ``require_https``."""
    setattr(view, _ANY_TRANSPORT, True)
    return view


def arrived_securely() -> bool:
    """Over HTTPS (as the server, or a trusted proxy, says), or to a loopback address."""
    return request.scheme == "https" or is_loopback(request.host)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address, with or without a port (Authlib's exception)."""
    try:
        name = urlsplit(f"//{host}").hostname
    except ValueError:
        return False
    if name == "localhost":
        return True
    try:
        return name is not None and ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal() -> Response:
    """400: the error JSON for clients, the error page for a person's browser (``/authorize``
    and ``/logout``). Nothing else of the request is read or written."""
    _explain_once()
    if request.path.startswith(JSON_PATHS):
        response = jsonify(error="invalid_request", error_description=REFUSAL)
        response.status_code = 400
        return response
    return make_response(render_template("error.html", status=400), 400)


def _explain_once() -> None:
    """Why, for the deployer: once per process (its one app), not once per request."""
    mine = object()
    if current_app.extensions.setdefault(_EXPLAINED, mine) is not mine:
        return
    log.warning("refused %s %s over plain HTTP to host %r; every such request is refused "
                "(logged once): %s", request.method, request.path[:100], request.host[:100],
                _advice(current_app.config))


def _advice(config: Mapping[str, Any]) -> str:
    count = config["IDP_PROXY_COUNT"]
    if count:
        return (f"IDP_PROXY_COUNT is {count}, but the request did not come with "
                "X-Forwarded-Proto: https from the proxy (nginx: proxy_set_header "
                "X-Forwarded-Proto $scheme;), or did not come through the proxy at all")
    if config["IDP_ISSUER"].startswith("https://"):
        return ("IDP_ISSUER is https but no proxy is trusted: if TLS ends at a proxy in front "
                "of the IdP, set IDP_PROXY_COUNT to the number of proxies so that their "
                "X-Forwarded-Proto counts")
    return ("plain HTTP is accepted on loopback only (development): serve the IdP behind TLS, "
            "with IDP_ISSUER its https:// address and IDP_PROXY_COUNT the proxies in front")


def start_warning(config: Mapping[str, Any]) -> str | None:
    """What ``idp serve`` says at start when the settings make the protocol refuse every
    request that reaches it: it speaks plain HTTP, so TLS ends in front of it."""
    issuer = urlsplit(config["IDP_ISSUER"])
    if issuer.scheme == "https" and not config["IDP_PROXY_COUNT"]:
        return ("IDP_ISSUER is https but no proxy is trusted (IDP_PROXY_COUNT=0): idp serve "
                "speaks plain HTTP, so every request reaches it as plain HTTP and the protocol's "
                "endpoints refuse it (400 invalid_request). Set IDP_PROXY_COUNT to the number of "
                "proxies in front of it (docs/deployment.md).")
    if issuer.scheme == "http" and not is_loopback(issuer.netloc):
        return (f"IDP_ISSUER {config['IDP_ISSUER']} is plain HTTP on a host other than loopback: "
                "the protocol's endpoints refuse plain HTTP there. Serve the IdP behind TLS with "
                "an https:// issuer (docs/deployment.md).")
    return None
