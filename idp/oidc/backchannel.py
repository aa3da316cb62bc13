"""OpenID Connect Back-Channel Logout 1.0: tell relying parties a session has ended.

Each RP that registered a ``backchannel_logout_uri`` and received tokens in the ended
session gets a signed ``logout_token`` (with ``sid`` and ``sub``) by direct POST. Delivery
is bounded by a short timeout; a failure is logged and audited, never shown to the citizen.
"""

from __future__ import annotations

import logging

import requests
from flask import current_app
from joserfc import jwt

from idp import secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.models import LoginSession
from idp.oidc.id_token import sid_for, subject_for
from idp.oidc.models import Client, Token

log = logging.getLogger("idp.backchannel")
EVENT = "http://schemas.openid.net/event/backchannel-logout"
TIMEOUT = 3


def logout_token(client: Client, login_session: LoginSession) -> str:
    alg = client.id_token_signed_response_alg or current_app.config["IDP_SIGNING_ALG"]
    key = current_app.extensions["idp.keys"].signing_key(alg)
    now = clock.timestamp()
    claims = {"iss": current_app.config["IDP_ISSUER"], "aud": client.client_id, "iat": now,
              "exp": now + 120, "jti": secrets.random_token(16), "events": {EVENT: {}},
              "sid": sid_for(client.client_id, login_session.id),
              "sub": subject_for(client, login_session.citizen)}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key, algorithms=[alg])


def clients_of(login_session: LoginSession) -> list[Client]:
    """The RPs that received tokens in this session and asked to hear of its end."""
    client_ids = db.session.scalars(db.select(Token.client_id).filter_by(sid=login_session.id).distinct())
    clients = db.session.scalars(db.select(Client).where(Client.client_id.in_(list(client_ids))))
    return [c for c in clients if c.client_metadata.get("backchannel_logout_uri")]


def notify(login_sessions: list[LoginSession]) -> None:
    for login_session in login_sessions:
        for client in clients_of(login_session):
            _deliver(client, login_session)


def _deliver(client: Client, login_session: LoginSession) -> None:
    uri = client.client_metadata["backchannel_logout_uri"]
    try:
        response = requests.post(uri, data={"logout_token": logout_token(client, login_session)},
                                 timeout=TIMEOUT, allow_redirects=False)
        delivered = response.status_code in (200, 204)
    except requests.RequestException:
        delivered = False
    if not delivered:
        log.warning("back-channel logout to client %s failed", client.client_id)
    record_event(EventTag.BACKCHANNEL_LOGOUT, login_session.citizen, client_id=client.client_id,
                 delivered=delivered)
