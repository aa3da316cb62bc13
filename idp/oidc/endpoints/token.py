"""Token endpoint (authorization_code and refresh_token grants)."""

from __future__ import annotations

from flask import Response, request

from idp import metrics
from idp.oidc import server
from idp.oidc.endpoints import blueprint


@blueprint.post("/token")
def token() -> Response:
    response = server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    metrics.token(request.form.get("grant_type"), issued=response.status_code == 200)
    return response
