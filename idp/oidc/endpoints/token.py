"""Token endpoint (authorization_code and refresh_token grants).

``TokenFront`` answers both grants for a client that authenticates with
``client_secret_basic`` in front of Flask (``front``), as the route below would: the same
checks in the same order, the same claim (``issuing``: one claim per code or refresh token,
the new pair and its audit row committed with it), ID token, metrics, JSON bytes and
headers. What it does not take goes on to the route: another grant or way to authenticate,
a refresh's ``scope`` parameter, a code without a well-formed PKCE verifier, an address past
its limit of failures, a wrong secret, and whatever the claim does not find usable (the
route then claims again and answers the refusal with what it writes: a replay's or a
reused code's revocation, a mismatch's audit).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN
from authlib.oidc.core.grants.util import is_openid_scope
from flask import Flask, Response, current_app, g, request
from sqlalchemy import Connection

from idp import metrics, ratelimit, secrets
from idp.audit import EventTag, event_row, log_event
from idp.clock import clock
from idp.oidc import client_auth, client_cache, issuing, server, tokens
from idp.oidc.endpoints import blueprint
from idp.oidc.endpoints.front import Answer, Front, HandOn, WsgiApp
from idp.oidc.id_token import issue_id_token
from idp.oidc.models import Client

PATH = "/token"
BASIC = "client_secret_basic"


@blueprint.post(PATH)
def token() -> Response:
    response = server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    metrics.token(request.form.get("grant_type"), issued=response.status_code == 200)
    return response


class TokenFront(Front):
    """``POST /token`` (a code or a refresh) of a client that authenticates with its secret
    in the Authorization header, answered before Flask sees the request."""

    path = PATH
    methods = ("POST",)

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        super().__init__(app, inner, route=f"{blueprint.name}.{token.__name__}")

    def answer(self, environ: dict[str, Any]) -> Answer:
        client_id, secret = client_auth.basic_credentials(environ.get("HTTP_AUTHORIZATION"))
        if not (client_id and secret):
            raise HandOn
        form = self.small_form(environ)
        claim = _claim_of(form)
        with issuing.connection() as connection:
            # As ClaveAuthorizationServer.authenticate_client, in its order, reading only:
            # the address's failures (a refusal is the route's to count), then the secret,
            # and the client's own method.
            address = ratelimit.network_of(environ.get("REMOTE_ADDR") or "-")
            if ratelimit.guard(client_auth.ACTION, ip=address).used_up_on(connection):
                raise HandOn
            client = client_cache.find_client(client_id)
            if (client is None or not client.check_client_secret(secret)
                    or not client.check_endpoint_auth_method(BASIC, "token")
                    or not client.check_grant_type(claim["grant"])):
                raise HandOn
            issued, event, done = _issue(connection, client, claim, environ)
        if done is None:
            raise HandOn
        log_event({**event, "citizen_id": done.citizen_id})
        issued["scope"] = done.scope
        if is_openid_scope(done.scope):
            issued["id_token"] = issue_id_token(client, done.citizen_id, done.context,
                                                access_token=issued["access_token"], nonce=done.nonce)
        metrics.token(claim["grant"], issued=True)
        return self.json(200, default_json_headers[:], issued)


def _claim_of(form: dict[str, str]) -> dict[str, str]:
    """What to claim, for the requests the front takes (else ``HandOn``)."""
    grant = form.get("grant_type")
    if grant == issuing.REFRESH:
        presented = form.get("refresh_token")
        if not presented or form.get("scope"):
            raise HandOn  # the route's invalid_request, or a narrower scope
        return {"grant": grant, "hash": secrets.keyed_hash(presented, tokens.REFRESH)}
    if grant == issuing.CODE:
        code, redirect_uri, verifier = form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
        if (code is None or not redirect_uri or "\0" in redirect_uri
                or verifier is None or not CODE_VERIFIER_PATTERN.match(verifier)):
            raise HandOn  # the route's refusals, and a code without PKCE
        return {"grant": grant, "hash": secrets.keyed_hash(code, tokens.CODE), "redirect_uri": redirect_uri,
                "challenge": create_s256_code_challenge(verifier)}
    raise HandOn


def _issue(connection: Connection, client: Client, claim: dict[str, str],
           environ: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], issuing.Issued | None]:
    """The new pair as ``tokens.generate_bearer_token`` makes it, its audit row, and what the
    claim handed down to it (None: nothing claimed, nothing stored)."""
    issued = tokens.generate_bearer_token(claim["grant"], client)
    now = clock.now()
    event = event_row(EventTag.TOKEN_ISSUED, None, client.client_id, environ, g.request_id,
                      {"grant_type": claim["grant"]})
    pair = issuing.Pair(
        by_client=client.client_id, access_hash=secrets.keyed_hash(issued["access_token"], tokens.ACCESS),
        refresh_hash=secrets.keyed_hash(issued["refresh_token"], tokens.REFRESH), now=now,
        access_expires_at=now + timedelta(seconds=issued["expires_in"]),
        refresh_expires_at=now + timedelta(seconds=current_app.config["IDP_REFRESH_TOKEN_TTL"]),
        event=event, family_id=secrets.random_token(16))
    if claim["grant"] == issuing.REFRESH:
        done = issuing.rotate(connection, pair, presented_hash=claim["hash"])
    else:
        done = issuing.redeem(connection, pair, code_hash=claim["hash"], redirect_uri=claim["redirect_uri"],
                              challenge=claim["challenge"])
    return issued, event, done
