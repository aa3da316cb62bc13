"""Protocol state: registered clients, pending authorization requests, codes and tokens.

Unlike Authlib's ready-made SQLAlchemy mixins, nothing secret is stored in clear:
client secrets, codes, access and refresh tokens are keyed hashes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp import secrets
from idp.clock import clock
from idp.connections import insert_for
from idp.extensions import db
from idp.models import Citizen

CLIENT_SECRET = "client_secret"  # noqa: S105 - the label of a keyed hash, not a secret


class Client(db.Model, ClientMixin):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    client_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    # Set by ``idp client disable``: the client is then unknown to every endpoint (within
    # the client cache's lifetime, ``idp.oidc.client_cache``).
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set by ``idp client create|update --signature``: the client may ask citizens to sign
    # documents through ``/api/signature/v1`` (Cl@ve Firma).
    signature_enabled: Mapped[bool] = mapped_column(Boolean, default=False)

    # -- what the rest of the code reads ------------------------------------------------
    @property
    def redirect_uris(self) -> list[str]:
        return self.client_metadata.get("redirect_uris", [])

    @property
    def auth_method(self) -> str:
        return self.client_metadata.get("token_endpoint_auth_method", "client_secret_basic")

    @property
    def is_public(self) -> bool:
        return self.auth_method == "none"

    @property
    def default_acr(self) -> str | None:
        return self.client_metadata.get("default_acr")

    @property
    def scopes(self) -> list[str]:
        return self.client_metadata.get("scope", "openid").split()

    @property
    def subject_type(self) -> str:
        return self.client_metadata.get("subject_type", "pairwise")

    @property
    def sector_identifier(self) -> str:
        return self.client_metadata.get("sector_identifier") or urlsplit(
            self.redirect_uris[0]
        ).netloc

    @property
    def id_token_signed_response_alg(self) -> str | None:
        return self.client_metadata.get("id_token_signed_response_alg")

    # -- Authlib's ClientMixin ----------------------------------------------------------
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # OIDC requires redirect_uri on every request, so there is no default.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(self.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, query string included (no prefix or wildcard matching).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.matches(client_secret, self.client_secret_hash, CLIENT_SECRET)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if method == "client_assertion_jwt":
            method = "private_key_jwt"
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class AuthorizationRequest(db.Model):
    """An authorization request waiting for the citizen to log in or consent."""

    __tablename__ = "authorization_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, str]] = mapped_column(JSON)
    # What happened while the citizen was away from the RP: the session that logged in
    # for this request (answers prompt=login and max_age) and whether they consented.
    authenticated_sid: Mapped[str | None] = mapped_column(String(64))
    consented: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class AuthorizationCode(db.Model):
    """Claimed and read back by one statement at the token endpoint (``idp.oidc.tokens``)."""

    __tablename__ = "authorization_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(512))
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON)
    sid: Mapped[str] = mapped_column(String(64))
    claims_request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class Token(db.Model):
    """An access token and, usually, its refresh token.

    Tokens descending from one authorization code share a ``family_id``: replaying a
    rotated refresh token revokes the whole family. Read and written by Core statements
    (``idp.oidc.tokens``, ``idp.oidc.bearer``), not as objects, on the token paths.
    """

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    authorization_code_id: Mapped[int | None] = mapped_column(Integer, index=True)
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON)
    auth_time: Mapped[int] = mapped_column(Integer)
    claims_request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    access_expires_at: Mapped[datetime] = mapped_column(DateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    refresh_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class UsedJwtId(db.Model):
    """``jti`` values of client assertions already seen, so none is accepted twice."""

    __tablename__ = "used_jwt_ids"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


def use_jti_once(jti_hash: str, expires_at: datetime) -> bool:
    """Record a ``jti``; False when it was recorded before (a replay). One INSERT … ON
    CONFLICT DO NOTHING in the request's transaction: a parallel request with the same
    value waits for this one's commit and then finds it, and no error ends the transaction."""
    insert = insert_for(db.session)(UsedJwtId)
    return db.session.scalar(insert.values(jti_hash=jti_hash, expires_at=expires_at)
                             .on_conflict_do_nothing().returning(UsedJwtId.jti_hash)) is not None


class BackchannelLogout(db.Model):
    """A logout to tell a relying party (an outbox row): written in the transaction that
    ends the session, sent after the response, deleted once delivered or given up."""

    __tablename__ = "backchannel_logouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    sid: Mapped[str] = mapped_column(String(64))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due from then on; a pass that takes the row moves it past the attempt's end, so no
    # other process takes it meanwhile, and it comes due again if that process dies.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)

    citizen: Mapped[Citizen] = relationship()
