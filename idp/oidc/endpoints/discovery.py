"""Discovery document and JWKS, built once per process and cached by clients.

Both bodies and their ETags are computed once (per issuer, per key set), never per
request: these are the busiest GETs an IdP serves.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

from flask import Response, current_app, request

from idp.assurance import ACR_LEVELS
from idp.oidc import claims as claim_rules
from idp.oidc.endpoints import blueprint
from idp.web import LANGUAGES, language_tag

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
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "sid",
                             "nonce", *sorted(claim_rules.RELEASABLE)],
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


@blueprint.get("/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return cached_json(*_metadata(current_app.config["IDP_ISSUER"]), max_age=3600)


@blueprint.get("/jwks.json")
def jwks() -> Response:
    return cached_json(*current_app.extensions["idp.keys"].public_jwks_document(), max_age=300)
