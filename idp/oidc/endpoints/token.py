"""Token endpoint (authorization_code and refresh_token grants).

``TokenFront`` answers the refresh of a client that authenticates with
``client_secret_basic`` in front of Flask (``front``), as the route below would: the same
checks in the same order, the same rotation (``rotation``: one claim per refresh token, the
new pair and its audit row committed with it), ID token, metrics, JSON bytes and headers.
What it does not take goes on to the route: another grant or way to authenticate, a
``scope`` parameter, an address past its limit of failures, a wrong secret, and a token the
claim does not find usable (the route then claims it again and answers the refusal with
what it writes: a replay's revocation, a mismatch's audit).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.consts import default_json_headers
from authlib.oidc.core.grants.util import is_openid_scope
from flask import Flask, Response, current_app, g, request

from idp import metrics, ratelimit, secrets
from idp.audit import EventTag, event_row, log_event
from idp.clock import clock
from idp.extensions import db
from idp.oidc import client_auth, client_cache, server, tokens
from idp.oidc.endpoints import blueprint
from idp.oidc.endpoints.front import Answer, Front, HandOn, WsgiApp
from idp.oidc.grants import RefreshTokenGrant
from idp.oidc.id_token import issue_id_token
from idp.oidc.rotation import Rotation, rotate

PATH = "/token"
BASIC = "client_secret_basic"
REFRESH = RefreshTokenGrant.GRANT_TYPE


@blueprint.post(PATH)
def token() -> Response:
    response = server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    metrics.token(request.form.get("grant_type"), issued=response.status_code == 200)
    return response


class TokenFront(Front):
    """``POST /token`` of a refresh by a client that authenticates with its secret in the
    Authorization header, answered before Flask sees the request."""

    path = PATH
    methods = ("POST",)

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        super().__init__(app, inner, route=f"{blueprint.name}.{token.__name__}")

    def answer(self, environ: dict[str, Any]) -> Answer:
        client_id, secret = client_auth.basic_credentials(environ.get("HTTP_AUTHORIZATION"))
        if not (client_id and secret):
            raise HandOn
        form = self.small_form(environ)
        presented = form.get("refresh_token")
        if form.get("grant_type") != REFRESH or not presented or form.get("scope"):
            raise HandOn  # the route's other grants, its invalid_request, a narrower scope
        with db.engine.connect() as connection:
            # As ClaveAuthorizationServer.authenticate_client, in its order, reading only:
            # the address's failures (a refusal is the route's to count), then the secret,
            # and the client's own method.
            address = ratelimit.network_of(environ.get("REMOTE_ADDR") or "-")
            if ratelimit.guard(client_auth.ACTION, ip=address).used_up_on(connection):
                raise HandOn
            client = client_cache.find_client(client_id)
            if (client is None or not client.check_client_secret(secret)
                    or not client.check_endpoint_auth_method(BASIC, "token")
                    or not client.check_grant_type(REFRESH)):
                raise HandOn
            issued = tokens.generate_bearer_token(REFRESH, client)
            now = clock.now()
            event = event_row(EventTag.TOKEN_ISSUED, None, client_id=client.client_id, environ=environ,
                              request_id=g.request_id, grant_type=REFRESH)
            rotated = rotate(connection, Rotation(
                by_client=client.client_id, presented_hash=secrets.keyed_hash(presented, tokens.REFRESH),
                access_hash=secrets.keyed_hash(issued["access_token"], tokens.ACCESS),
                refresh_hash=secrets.keyed_hash(issued["refresh_token"], tokens.REFRESH), now=now,
                access_expires_at=now + timedelta(seconds=issued["expires_in"]),
                refresh_expires_at=now + timedelta(seconds=current_app.config["IDP_REFRESH_TOKEN_TTL"]),
                event=event))
        if rotated is None:
            raise HandOn
        log_event({**event, "citizen_id": rotated.citizen_id})
        issued["scope"] = rotated.scope
        if is_openid_scope(rotated.scope):
            issued["id_token"] = issue_id_token(client, rotated.citizen_id, rotated.context,
                                                access_token=issued["access_token"], nonce=None)
        metrics.token(REFRESH, issued=True)
        return self.json(200, default_json_headers[:], issued)
