"""Tokens presented back to us (UserInfo, introspection, revocation), each found by one
statement built once that returns what the endpoint needs, not ORM objects.

For UserInfo and introspection the statement itself keeps only a token in force: not
revoked (a logout, a rotation, a revocation, a replay all revoke), its access part not
expired, its citizen active. Its client comes from this process's client cache, so a
disabled client's tokens stop working with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Select, bindparam, or_, select

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, CitizenStatus
from idp.oidc.client_cache import find_client
from idp.oidc.models import Client, Token
from idp.oidc.tokens import ACCESS, REFRESH

_TOKENS = Token.__table__
_CITIZENS = Citizen.__table__


@dataclass(frozen=True)
class CitizenClaims:
    """The columns claims are made of (``claims.CitizenLike``)."""

    id: int
    document: str
    document_type: str
    given_name: str
    first_surname: str
    second_surname: str | None
    birthdate: date | None
    email: str
    phone: str


@dataclass(frozen=True)
class ActiveToken:
    """A token in force (Authlib's token object for UserInfo and introspection)."""

    client: Client
    scope: str
    issued_at: datetime
    access_expires_at: datetime
    acr: str
    auth_time: int
    claims_request: dict[str, dict[str, Any]]
    citizen: CitizenClaims

    @property
    def client_id(self) -> str:
        return self.client.client_id

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.access_expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.access_expires_at <= clock.now()

    def is_revoked(self) -> bool:
        return False  # the statement finds no revoked token

    def get_user(self) -> CitizenClaims:
        return self.citizen

    def get_client(self) -> Client:
        return self.client


@dataclass(frozen=True)
class PresentedToken:
    """A token a client asks to revoke, whatever its state."""

    id: int
    client_id: str
    citizen_id: int
    family_id: str

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id


def _by_hint(columns: Select[Any]) -> dict[str | None, Select[Any]]:
    """One statement per ``token_type_hint``: without one, the value may be either."""
    access = _TOKENS.c.access_token_hash == bindparam(ACCESS)
    refresh = _TOKENS.c.refresh_token_hash == bindparam(REFRESH)
    return {ACCESS: columns.where(access), REFRESH: columns.where(refresh),
            None: columns.where(or_(access, refresh))}


_TOKEN_PART = (_TOKENS.c.client_id, _TOKENS.c.scope, _TOKENS.c.issued_at, _TOKENS.c.access_expires_at,
               _TOKENS.c.acr, _TOKENS.c.auth_time, _TOKENS.c.claims_request)
_IN_FORCE = _by_hint(
    select(*_TOKEN_PART, *(_CITIZENS.c[name] for name in CitizenClaims.__dataclass_fields__))
    .join(_CITIZENS, _CITIZENS.c.id == _TOKENS.c.citizen_id)
    .where(_TOKENS.c.revoked_at.is_(None),
           _TOKENS.c.access_expires_at > bindparam("now", type_=DateTime()),
           _CITIZENS.c.status == CitizenStatus.ACTIVE.value))
_PRESENTED = _by_hint(select(_TOKENS.c.id, _TOKENS.c.client_id, _TOKENS.c.citizen_id,
                             _TOKENS.c.family_id))


def _hashes(value: str, hint: str | None) -> dict[str, str]:
    return {kind: secrets.keyed_hash(value, kind) for kind in (ACCESS, REFRESH)
            if hint in (None, kind)}


def token_in_force(value: str, hint: str | None = None,
                   connection: Connection | None = None) -> ActiveToken | None:
    """The token in force that ``value`` is (by ``hint``: its access or refresh token), read
    through the request's session or, in front of Flask, ``connection``."""
    hint = hint if hint in (ACCESS, REFRESH) else None
    execute = db.session.execute if connection is None else connection.execute
    row = execute(_IN_FORCE[hint], {**_hashes(value, hint), "now": clock.now()}).first()
    if row is None:
        return None
    client = find_client(row.client_id)
    if client is None:  # disabled since
        return None
    return ActiveToken(client, *row[1:len(_TOKEN_PART)], CitizenClaims(*row[len(_TOKEN_PART):]))


def presented_token(value: str, hint: str | None = None) -> PresentedToken | None:
    hint = hint if hint in (ACCESS, REFRESH) else None
    row = db.session.execute(_PRESENTED[hint], _hashes(value, hint)).first()
    return PresentedToken(row.id, row.client_id, row.citizen_id, row.family_id) if row else None
