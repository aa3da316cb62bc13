"""Token endpoint (authorization_code and refresh_token grants)."""

from __future__ import annotations

from flask import Response

from idp.oidc import server
from idp.oidc.endpoints import blueprint


@blueprint.post("/token")
def token() -> Response:
    response = server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
