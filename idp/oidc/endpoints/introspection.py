"""Token introspection (RFC 7662), for a client's own tokens.

``IntrospectionFront`` answers a client that authenticates with ``client_secret_basic`` in
front of Flask (``front``), as the route below would; what it does not take (another way
to authenticate, a wrong secret, an address past its limit of failures, a missing token or
an unknown hint: every answer that writes or is not a plain 200) goes on to the route.
"""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, current_app

from idp import ratelimit
from idp.oidc import bearer, client_auth, client_cache, server
from idp.oidc.endpoints import blueprint
from idp.oidc.endpoints.front import Answer, Front, HandOn, WsgiApp
from idp.oidc.id_token import subject_for
from idp.oidc.models import Client

PATH = "/introspect"
BASIC = "client_secret_basic"


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


@blueprint.post(PATH)
def introspect():  # type: ignore[no-untyped-def]
    return server().create_endpoint_response(Introspection.ENDPOINT_NAME)


class IntrospectionFront(Front):
    """``POST /introspect`` of a client that authenticates with its secret in the
    Authorization header, answered before Flask sees the request."""

    path = PATH
    methods = ("POST",)

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        super().__init__(app, inner, route=f"{blueprint.name}.{introspect.__name__}")
        self.endpoint = Introspection()

    def answer(self, environ: dict[str, Any]) -> Answer:
        client_id, secret = client_auth.basic_credentials(environ.get("HTTP_AUTHORIZATION"))
        if not (client_id and secret):
            raise HandOn
        form = self.small_form(environ)
        value, hint = form.get("token"), form.get("token_type_hint")
        if value is None or (hint and hint not in Introspection.SUPPORTED_TOKEN_TYPES):
            raise HandOn  # Authlib's invalid_request or unsupported_token_type
        # As ClaveAuthorizationServer.authenticate_client, in its order, reading only: the
        # address's failures (without counting a refusal: the route counts the one it makes),
        # then the secret, and the client's own method.
        address = ratelimit.network_of(environ.get("REMOTE_ADDR") or "-")
        if ratelimit.guard(client_auth.ACTION, ip=address).used_up:
            raise HandOn
        client = client_cache.find_client(client_id)
        if (client is None or not client.check_client_secret(secret)
                or not client.check_endpoint_auth_method(BASIC, Introspection.ENDPOINT_NAME)):
            raise HandOn
        token = self.endpoint.query_token(value, hint)
        if token is not None and not self.endpoint.check_permission(token, client, None):
            token = None
        return self.json(200, default_json_headers[:], self.endpoint.create_introspection_payload(token))
