"""Access and refresh tokens: generated random, stored as keyed hashes, rotated atomically.

The token endpoint claims what it is given and writes what it issues with Core statements
built once, not through ORM objects (building and tracking those was half the time of a
refresh): a refresh token or a code is claimed by one conditional ``UPDATE … RETURNING``
that also checks the citizen and the session, the new pair is one ``INSERT``, and both go
with their audit row in one transaction.

A session and the tokens issued in it meet on the session's row: the claim reads it
``FOR SHARE`` (PostgreSQL; under SQLite the claim's statement already holds the one write
lock) until the transaction ends, and a logout writes it before revoking the session's
tokens. So a logout either committed first (the claim finds the session ended and issues
nothing) or waits for the new tokens to be committed and then revokes them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, DateTime, bindparam, exists, or_, select, update

from idp import secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, CitizenStatus, LoginSession
from idp.oidc.id_token import AuthContext
from idp.oidc.models import AuthorizationCode, Token

ACCESS = "access_token"
REFRESH = "refresh_token"
CODE = "authorization_code"

_TOKENS = Token.__table__
_CODES = AuthorizationCode.__table__
_CITIZENS = Citizen.__table__
_SESSIONS = LoginSession.__table__
_NOW = bindparam("now", type_=DateTime())


def citizen_is_active(citizen_id: ColumnElement[int]) -> ColumnElement[bool]:
    return exists().where(_CITIZENS.c.id == citizen_id,
                          _CITIZENS.c.status == CitizenStatus.ACTIVE.value)


def _session_is_open(sid: ColumnElement[str | None]) -> ColumnElement[bool]:
    """The session the credential was issued in has not ended; its row stays locked
    against a logout until this transaction ends (see the module's docstring)."""
    alive = (select(_SESSIONS.c.id).where(_SESSIONS.c.id == sid, _SESSIONS.c.ended_at.is_(None))
             .with_for_update(read=True))
    return or_(sid.is_(None), alive.exists())


@dataclass(frozen=True)
class Subject:
    """The citizen tokens are issued to, as the token endpoint needs them (the audit, the
    pairwise ``sub``): the claims above have checked that they are active."""

    id: int


@dataclass(frozen=True)
class Claimed:
    """A refresh token this request used up: what the new pair takes over from it."""

    citizen_id: int
    scope: str
    family_id: str
    authorization_code_id: int | None
    context: AuthContext

    def check_client(self, client: Any) -> bool:
        return True  # claimed only for the client that presented it

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class Redeemed:
    """An authorization code this request used up (Authlib reads it as its code object)."""

    id: int
    citizen_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    context: AuthContext

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


_CONTEXT = (_TOKENS.c.acr, _TOKENS.c.amr, _TOKENS.c.auth_time, _TOKENS.c.sid, _TOKENS.c.claims_request)

# Used and revoked with its access token in one statement: the new pair is inserted next
# (RefreshTokenGrant.revoke_old_credential has nothing left to do).
CLAIM_REFRESH = (
    update(_TOKENS)
    .where(_TOKENS.c.refresh_token_hash == bindparam("hash"),
           _TOKENS.c.client_id == bindparam("by_client"),
           _TOKENS.c.refresh_used_at.is_(None), _TOKENS.c.revoked_at.is_(None),
           _TOKENS.c.refresh_expires_at > _NOW,
           citizen_is_active(_TOKENS.c.citizen_id), _session_is_open(_TOKENS.c.sid))
    .values(refresh_used_at=_NOW, revoked_at=_NOW)
    .returning(_TOKENS.c.citizen_id, _TOKENS.c.scope, _TOKENS.c.family_id,
               _TOKENS.c.authorization_code_id, *_CONTEXT))
_REFRESH_TOKEN = select(_TOKENS.c.client_id, _TOKENS.c.citizen_id, _TOKENS.c.family_id,
                        _TOKENS.c.refresh_used_at).where(_TOKENS.c.refresh_token_hash == bindparam("hash"))

CLAIM_CODE = (
    update(_CODES)
    .where(_CODES.c.code_hash == bindparam("hash"), _CODES.c.client_id == bindparam("by_client"),
           _CODES.c.used_at.is_(None), _CODES.c.expires_at > _NOW,
           citizen_is_active(_CODES.c.citizen_id), _session_is_open(_CODES.c.sid))
    .values(used_at=_NOW)
    .returning(_CODES.c.id, _CODES.c.citizen_id, _CODES.c.redirect_uri, _CODES.c.scope,
               _CODES.c.nonce, _CODES.c.code_challenge, _CODES.c.code_challenge_method,
               _CODES.c.acr, _CODES.c.amr, _CODES.c.auth_time, _CODES.c.sid,
               _CODES.c.claims_request))
_CODE = select(_CODES.c.id, _CODES.c.citizen_id, _CODES.c.used_at).where(
    _CODES.c.code_hash == bindparam("hash"), _CODES.c.client_id == bindparam("by_client"))

_INSERT = _TOKENS.insert()


def context_of(row: Any) -> AuthContext:
    return AuthContext(acr=row.acr, amr=row.amr, auth_time=row.auth_time, sid=row.sid,
                       claims_request=row.claims_request)


def generate_bearer_token(grant_type, client, user=None, scope=None, expires_in=None,  # noqa: ANN001
                          include_refresh_token=True) -> dict[str, Any]:
    token = {
        "token_type": "Bearer",
        "access_token": secrets.random_token(),
        "expires_in": expires_in or current_app.config["IDP_ACCESS_TOKEN_TTL"],
        "scope": scope or "",
    }
    if include_refresh_token:
        token["refresh_token"] = secrets.random_token()
    return token


def save_token(token: dict[str, Any], request) -> None:  # type: ignore[no-untyped-def]
    """Store what was issued, in the transaction of the claim that allowed it; the family
    carries over from the refresh token it replaces."""
    context: AuthContext = request.auth_context
    previous: Claimed | None = request.refresh_token
    code: Redeemed | None = request.authorization_code
    now = clock.now()
    refresh = token.get("refresh_token")
    db.session.execute(_INSERT, {
        "client_id": request.client.client_id,
        "citizen_id": request.user.id,
        "access_token_hash": secrets.keyed_hash(token["access_token"], ACCESS),
        "refresh_token_hash": secrets.keyed_hash(refresh, REFRESH) if refresh else None,
        "scope": token["scope"],
        "family_id": previous.family_id if previous else secrets.random_token(16),
        "authorization_code_id": previous.authorization_code_id if previous else code.id,
        "sid": context.sid,
        "acr": context.acr,
        "amr": context.amr,
        "auth_time": context.auth_time,
        "claims_request": context.claims_request,
        "issued_at": now,
        "access_expires_at": now + timedelta(seconds=token["expires_in"]),
        "refresh_expires_at": (now + timedelta(seconds=current_app.config["IDP_REFRESH_TOKEN_TTL"])
                               if refresh else None),
        "refresh_used_at": None,
        "revoked_at": None,
    })
    record_event(EventTag.TOKEN_ISSUED, request.user, client_id=request.client.client_id,
                 grant_type=request.payload.grant_type)


def claim_refresh_token(value: str, *, client_id: str) -> Claimed | None:
    """Mark a refresh token of this client used, exactly once, if its citizen is active and
    its session open; a replay revokes its whole family. Another client's token is refused
    untouched (and audited): the owner's next refresh must not look like a replay."""
    hashed = secrets.keyed_hash(value, REFRESH)
    row = db.session.execute(CLAIM_REFRESH, {"hash": hashed, "by_client": client_id,
                                              "now": clock.now()}).first()
    if row is not None:
        return Claimed(row.citizen_id, row.scope, row.family_id, row.authorization_code_id,
                       context_of(row))
    found = db.session.execute(_REFRESH_TOKEN, {"hash": hashed}).first()
    if found is None:
        return None
    if found.client_id != client_id:
        record_event(EventTag.TOKEN_CLIENT_MISMATCH, Subject(found.citizen_id), client_id=client_id,
                     owner=found.client_id, grant_type=REFRESH)
    elif found.refresh_used_at is not None:
        revoke_family(found.family_id)
        record_event(EventTag.REFRESH_REPLAYED, Subject(found.citizen_id), client_id=client_id)
    return None


def claim_code(value: str, *, client_id: str) -> Redeemed | None:
    """Mark a code of this client used, exactly once, if its citizen is active and its
    session open; a second redemption revokes what the first one issued."""
    params = {"hash": secrets.keyed_hash(value, CODE), "by_client": client_id}
    row = db.session.execute(CLAIM_CODE, {**params, "now": clock.now()}).first()
    if row is not None:
        return Redeemed(row.id, row.citizen_id, row.redirect_uri, row.scope, row.nonce,
                        row.code_challenge, row.code_challenge_method, context_of(row))
    found = db.session.execute(_CODE, params).first()
    if found is not None and found.used_at is not None:
        revoke_issued_from_code(found.id)
        record_event(EventTag.CODE_REUSED, Subject(found.citizen_id), client_id=client_id)
    return None


def revoke_one(token_id: int) -> None:
    """Revoke one access token and its refresh token (the caller commits)."""
    db.session.execute(update(_TOKENS).where(_TOKENS.c.id == token_id, _TOKENS.c.revoked_at.is_(None))
                       .values(revoked_at=clock.now()))


def revoke_family(family_id: str) -> None:
    """Revoke every token descending from one code (the caller commits)."""
    db.session.execute(update(_TOKENS).where(_TOKENS.c.family_id == family_id,
                                             _TOKENS.c.revoked_at.is_(None))
                       .values(revoked_at=clock.now()))


def revoke_issued_from_code(code_id: int) -> None:
    """(The caller commits.)"""
    db.session.execute(update(_TOKENS).where(_TOKENS.c.authorization_code_id == code_id,
                                             _TOKENS.c.revoked_at.is_(None))
                       .values(revoked_at=clock.now()))


def revoke_session_tokens(sids: list[str]) -> None:
    """Revoke what was issued in these sessions (the caller commits)."""
    if sids:
        db.session.execute(update(_TOKENS).where(_TOKENS.c.sid.in_(sids), _TOKENS.c.revoked_at.is_(None))
                           .values(revoked_at=clock.now()))


def revoke_citizen_tokens(citizen_id: int) -> None:
    db.session.execute(update(_TOKENS).where(_TOKENS.c.citizen_id == citizen_id,
                                             _TOKENS.c.revoked_at.is_(None))
                       .values(revoked_at=clock.now()))
