"""One module per protocol endpoint, all on the ``oidc`` blueprint (no CSRF: clients
authenticate themselves; the browser-facing forms live in ``idp.flows``)."""

from __future__ import annotations

import base64
import binascii

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import Blueprint, jsonify, request

blueprint = Blueprint("oidc", __name__)


def register_endpoints(server: AuthorizationServer) -> None:
    from idp.oidc.endpoints import (  # noqa: F401 - importing registers the routes
        authorization,
        discovery,
        end_session,
        introspection,
        revocation,
        token,
        userinfo,
    )

    server.register_endpoint(revocation.Revocation)
    server.register_endpoint(introspection.Introspection)
    server.register_endpoint(userinfo.userinfo_endpoint())
    server.register_endpoint(end_session.EndSession)


@blueprint.before_request
def _refuse_undecodable_basic_credentials():  # type: ignore[no-untyped-def]
    """Authlib decodes Basic credentials as UTF-8 and raises on anything else; such a
    header is refused here with the error RFC 6749 §5.2 prescribes."""
    header = request.headers.get("Authorization", "")
    if not header[:6].lower() == "basic ":
        return None
    try:
        base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        response = jsonify(error="invalid_client", error_description="Malformed Basic credentials.")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="clave"'
        response.headers["Cache-Control"] = "no-store"
        return response
    return None
