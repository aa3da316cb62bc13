"""Token introspection (RFC 7662), for a client's own tokens."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import current_app

from idp.oidc import bearer, server
from idp.oidc.endpoints import blueprint
from idp.oidc.id_token import subject_for
from idp.oidc.models import Client


class Introspection(IntrospectionEndpoint):
    """Only a token in force is found (``bearer``): anything else, like another client's
    token, is ``{"active": false}``."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "client_assertion_jwt"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> bearer.ActiveToken | None:
        return bearer.token_in_force(token_string, token_type_hint)

    def check_permission(self, token: bearer.ActiveToken, client: Client, request) -> bool:  # type: ignore[no-untyped-def]
        return token.check_client(client)

    def introspect_token(self, token: bearer.ActiveToken) -> dict[str, Any]:
        return {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "token_type": "Bearer",
            "sub": subject_for(token.client, token.citizen.id),
            "aud": token.client_id,
            "iss": current_app.config["IDP_ISSUER"],
            "iat": int(token.issued_at.timestamp()),
            "exp": int(token.access_expires_at.timestamp()),
            "acr": token.acr,
            "auth_time": token.auth_time,
        }


@blueprint.post("/introspect")
def introspect():  # type: ignore[no-untyped-def]
    return server().create_endpoint_response(Introspection.ENDPOINT_NAME)
