"""Discovery document and JWKS, built once per process and cached by clients.

Both bodies and their ETags are computed once (per issuer, per key set), never per
request: these are the busiest GETs an IdP serves. ``PublishedDocuments`` answers them in
front of Flask, with the same bytes and headers as the routes below but without what does
not apply to a public document (session, locale, CSRF, database): the routes stay for
whatever it hands on (another method, a malformed Host, a path under a prefix).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.http import parse_etags

from idp.assurance import ACR_LEVELS
from idp.metrics.web import ROUTE
from idp.oidc import claims as claim_rules
from idp.oidc.endpoints import blueprint
from idp.transport import any_transport
from idp.web import LANGUAGES, language_tag, request_id, security_headers, well_formed_host

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks.json"
DISCOVERY_MAX_AGE = 3600
JWKS_MAX_AGE = 300

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]


@cache
def _metadata(issuer: str) -> tuple[bytes, str]:
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/jwks.json",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "end_session_endpoint": f"{issuer}/logout",
        "scopes_supported": list(claim_rules.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS[:3],
        "code_challenge_methods_supported": ["S256"],
        # RELEASABLE holds sub (the openid scope's claim): it is named once, first.
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "sid",
                             "nonce", *sorted(claim_rules.RELEASABLE - {"sub"})],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "acr_values_supported": list(ACR_LEVELS),
        "prompt_values_supported": ["none", "login", "consent"],
        "display_values_supported": ["page", "touch"],
        "claim_types_supported": ["normal"],
        "ui_locales_supported": [language_tag(locale) for locale in LANGUAGES],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
    body = json.dumps(document, indent=2).encode()
    return body, hashlib.sha256(body).hexdigest()[:32]


def cached_json(body: bytes, etag: str, max_age: int) -> Response:
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get(DISCOVERY_PATH)
@any_transport
def openid_configuration() -> Response:
    return cached_json(*_metadata(current_app.config["IDP_ISSUER"]), max_age=DISCOVERY_MAX_AGE)


@blueprint.get(JWKS_PATH)
@any_transport
def jwks() -> Response:
    return cached_json(*current_app.extensions["idp.keys"].public_jwks_document(),
                       max_age=JWKS_MAX_AGE)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PublishedDocuments:
    """The discovery document and the JWKS for a GET or HEAD, answered before Flask sees
    the request; everything else goes on to ``inner``. The JWKS follows the key store, which
    notices a rotation (the manifest's mtime) at the next request."""

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        self.inner = inner
        issuer = app.config["IDP_ISSUER"]
        keys = app.extensions["idp.keys"]
        # The route each is counted under (idp.metrics.web): the endpoint Flask would name.
        self.documents: dict[str, tuple[Callable[[], tuple[bytes, str]], str, str]] = {
            DISCOVERY_PATH: (lambda: _metadata(issuer), f"public, max-age={DISCOVERY_MAX_AGE}",
                             f"{blueprint.name}.{openid_configuration.__name__}"),
            JWKS_PATH: (keys.public_jwks_document, f"public, max-age={JWKS_MAX_AGE}",
                        f"{blueprint.name}.{jwks.__name__}"),
        }
        self.always = list(security_headers(app.config["IDP_SECURE_COOKIES"]).items())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = self.documents.get(environ.get("PATH_INFO", ""))
        host = environ.get("HTTP_HOST")
        if (found is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
                or environ.get("SCRIPT_NAME") or (host is not None and not well_formed_host(host))):
            return self.inner(environ, start_response)
        document, cache_control, environ[ROUTE] = found
        body, etag = document()
        validators = [("ETag", f'"{etag}"'), ("Cache-Control", cache_control),
                      ("Access-Control-Allow-Origin", "*"), ("X-Request-Id", request_id(environ)),
                      *self.always]
        held = environ.get("HTTP_IF_NONE_MATCH")
        if held and parse_etags(held).contains(etag):
            start_response("304 NOT MODIFIED", validators)
            return []
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), *validators])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
