"""ID tokens: signed with the current key of the client's algorithm, ``kid`` in the header."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from joserfc import jwt

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen
from idp.oidc import claims as claim_rules
from idp.oidc.models import Client


@dataclass(frozen=True)
class AuthContext:
    """How and when the citizen authenticated: carried from the session to code to token."""

    acr: str
    amr: list[str]
    auth_time: int
    sid: str | None
    claims_request: dict[str, dict[str, Any]] = field(default_factory=dict)


def half_hash(value: str, alg: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()  # RS256 and ES256 both use SHA-256
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).decode().rstrip("=")


def subject_for(client: Client, citizen_id: int) -> str:
    return claim_rules.subject(
        citizen_id,
        sector=client.sector_identifier,
        public=client.subject_type == "public",
        secret=current_app.config["IDP_SECRET_KEY"].encode(),
    )


def sid_for(client_id: str, session_id: str) -> str:
    """The ``sid`` one client sees for a session. Like a pairwise ``sub``, each client gets
    its own (a keyed hash, not the session's id), so relying parties comparing sids cannot
    link a citizen's visits; derived again, never stored, to recognise it at logout."""
    return secrets.keyed_hash(f"{client_id}|{session_id}", "sid")


def issue_id_token(
    client: Client,
    citizen_id: int,
    context: AuthContext,
    *,
    access_token: str | None,
    nonce: str | None,
) -> str:
    alg = client.id_token_signed_response_alg or current_app.config["IDP_SIGNING_ALG"]
    key = current_app.extensions["idp.keys"].signing_key(alg)
    now = clock.timestamp()
    payload: dict[str, Any] = {
        "iss": current_app.config["IDP_ISSUER"],
        "sub": subject_for(client, citizen_id),
        "aud": client.client_id,
        "iat": now,
        "exp": now + current_app.config["IDP_ID_TOKEN_TTL"],
        "auth_time": context.auth_time,
        "acr": context.acr,
        "amr": context.amr,
    }
    if context.sid:
        payload["sid"] = sid_for(client.client_id, context.sid)
    if nonce:
        payload["nonce"] = nonce
    if access_token:
        payload["at_hash"] = half_hash(access_token, alg)
    wanted = set(context.claims_request.get("id_token", {})) & claim_rules.RELEASABLE
    if wanted:  # the citizen's row is read only for a client that asked for claims here
        payload.update(claim_rules.release(db.session.get(Citizen, citizen_id), wanted))
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, payload, key, algorithms=[alg])
