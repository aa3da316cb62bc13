"""Access and refresh tokens: generated random, stored as keyed hashes, rotated atomically."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError
from flask import current_app
from sqlalchemy import or_, update
from sqlalchemy.orm import joinedload

from idp import secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.models import LoginSession
from idp.oidc.models import Token

ACCESS = "access_token"
REFRESH = "refresh_token"


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
    """Store what was issued; the family carries over from the refresh token it replaces."""
    context = request.auth_context
    previous: Token | None = request.refresh_token
    code = request.authorization_code
    now = clock.now()
    refresh = token.get("refresh_token")
    issued = Token(
        client_id=request.client.client_id,
        citizen_id=request.user.id,
        access_token_hash=secrets.keyed_hash(token["access_token"], ACCESS),
        refresh_token_hash=secrets.keyed_hash(refresh, REFRESH) if refresh else None,
        scope=token["scope"],
        family_id=previous.family_id if previous else secrets.random_token(16),
        authorization_code_id=previous.authorization_code_id if previous else code.id,
        sid=context.sid,
        acr=context.acr,
        amr=context.amr,
        auth_time=context.auth_time,
        claims_request=context.claims_request,
        issued_at=now,
        access_expires_at=now + timedelta(seconds=token["expires_in"]),
        refresh_expires_at=(now + timedelta(seconds=current_app.config["IDP_REFRESH_TOKEN_TTL"])
                            if refresh else None),
    )
    db.session.add(issued)
    # A refresh token's claim checked its session first (claim_refresh_token); a code's
    # session is checked here, once the new tokens are written.
    if previous is None and context.sid is not None and _session_has_ended(context.sid):
        db.session.delete(issued)  # the code stays used: it was redeemed, for nothing
        raise InvalidGrantError("The session these tokens belong to has ended.")
    record_event(EventTag.TOKEN_ISSUED, request.user, client_id=request.client.client_id,
                 grant_type=request.payload.grant_type)


def _session_has_ended(sid: str) -> bool:
    """Whether the session is over, read with its row locked for share (PostgreSQL): a
    logout, which writes that row before revoking the session's tokens, either committed
    before and is seen here, or waits for this transaction and then revokes what it issued.

    A code's tokens are written first and the row read next; under SQLite the insert
    already holds the database's single write lock. A refresh reads the row before it
    claims the refresh token: a logout locks the session's row, then its tokens, and the
    token endpoint must take them in that order too, or the two wait for each other."""
    db.session.flush()
    ended_at = db.session.execute(
        db.select(LoginSession.ended_at).where(LoginSession.id == sid).with_for_update(read=True)
    ).one_or_none()
    return ended_at is None or ended_at[0] is not None


def find_token(value: str, hint: str | None = None) -> Token | None:
    access_hash = secrets.keyed_hash(value, ACCESS)
    refresh_hash = secrets.keyed_hash(value, REFRESH)
    condition = {ACCESS: Token.access_token_hash == access_hash,
                 REFRESH: Token.refresh_token_hash == refresh_hash}.get(hint or "")
    if condition is None:
        condition = or_(Token.access_token_hash == access_hash, Token.refresh_token_hash == refresh_hash)
    return db.session.scalar(db.select(Token).where(condition)
                             .options(joinedload(Token.citizen), joinedload(Token.client)))


def claim_refresh_token(value: str, *, client_id: str) -> Token | None:
    """Mark a refresh token of this client used, exactly once; a replay revokes its whole
    family. Another client's token is refused untouched (and audited)."""
    token = db.session.scalar(db.select(Token).filter_by(
        refresh_token_hash=secrets.keyed_hash(value, REFRESH)))
    if token is None:
        return None
    if token.client_id != client_id:
        record_event(EventTag.TOKEN_CLIENT_MISMATCH, token.citizen, client_id=client_id,
                     owner=token.client_id, grant_type=REFRESH)
        return None
    now = clock.now()
    if token.refresh_used_at is not None:
        revoke_family(token.family_id)
        record_event(EventTag.REFRESH_REPLAYED, token.citizen, client_id=token.client_id)
        return None
    if token.revoked_at is not None or (token.refresh_expires_at or now) <= now:
        return None
    if not token.citizen.is_active:
        return None
    if token.sid is not None and _session_has_ended(token.sid):
        return None  # logged out: the logout revoked this token's family, or is doing so
    # Used and, rotated, revoked with its access token in the same conditional UPDATE: the
    # new pair is saved next (RefreshTokenGrant.revoke_old_credential has nothing left to do).
    claimed = db.session.execute(
        update(Token)
        .where(Token.id == token.id, Token.refresh_used_at.is_(None), Token.revoked_at.is_(None))
        .values(refresh_used_at=now, revoked_at=now)
    ).rowcount
    if claimed != 1:
        revoke_family(token.family_id)
        record_event(EventTag.REFRESH_REPLAYED, token.citizen, client_id=token.client_id)
        return None
    return token


def revoke_family(family_id: str) -> None:
    db.session.execute(update(Token).where(Token.family_id == family_id, Token.revoked_at.is_(None))
                       .values(revoked_at=clock.now()))


def revoke_issued_from_code(code_id: int) -> None:
    db.session.execute(update(Token).where(Token.authorization_code_id == code_id,
                                           Token.revoked_at.is_(None))
                       .values(revoked_at=clock.now()))


def revoke_session_tokens(sids: list[str]) -> None:
    """Revoke what was issued in these sessions, whose rows the caller has just written."""
    if sids:
        db.session.execute(update(Token).where(Token.sid.in_(sids), Token.revoked_at.is_(None))
                           .values(revoked_at=clock.now()))
