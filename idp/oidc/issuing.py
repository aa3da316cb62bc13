"""Tokens issued in front of Flask (``endpoints/token``'s ``TokenFront``): a refresh token's
rotation and a code's redemption, on a connection of the engine rather than the request's
session. The claim is the route's (``tokens.CLAIM_REFRESH``, ``tokens.CLAIM_CODE``), the new
pair ``tokens.save_token``'s and the audit row ``record_event``'s, committed together.

* PostgreSQL: one statement, in autocommit: the claim, the new pair and the audit row are
  the data-modifying parts of one ``WITH``, which is its own transaction. The claim's row
  lock and its ``FOR SHARE`` on the session's row last until the new pair is committed, as
  in the route's transaction, and a parallel claim of the same token or code waits for it
  and then finds it used. One round trip where the route's unit of work takes five
  (``BEGIN``, three statements, ``COMMIT``), while the database server may share a core.
* SQLite: the same three statements in one transaction (in process, nothing to save).

A code is claimed here only with its redirect URI and PKCE verifier in the statement's
conditions (the route checks them after its claim, and its refusals keep the code used).
A claim that finds nothing writes nothing (the inserts take their rows from the claim's):
the route then answers, with what a refusal writes (a replay's revocation, its audit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Executable,
    String,
    Update,
    bindparam,
    func,
    insert,
    null,
    select,
)

from idp.connections import statement_by_statement
from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc.id_token import AuthContext
from idp.oidc.models import AuthorizationCode, Token
from idp.oidc.tokens import CLAIM_CODE, CLAIM_REFRESH, context_of

_TOKENS = Token.__table__
_CODES = AuthorizationCode.__table__
_AUDIT = AuditEvent.__table__
_INSERT_PAIR, _INSERT_EVENT = _TOKENS.insert(), _AUDIT.insert()  # built once (and their cache keys)
# A code whose redirect URI and S256 challenge are those presented (stored with the code:
# the authorization endpoint takes S256 only, ``grants.S256CodeChallenge``).
_CLAIM_CODE_AS_PRESENTED = CLAIM_CODE.where(
    _CODES.c.redirect_uri == bindparam("presented_uri", type_=String),
    _CODES.c.code_challenge == bindparam("presented_challenge", type_=String),
    func.coalesce(_CODES.c.code_challenge_method, "S256") == "S256")
REFRESH, CODE = "refresh_token", "authorization_code"


@dataclass(frozen=True)
class Pair:
    """The new pair (its hashes and lifetimes) and its audit row (``audit.event_row``), all
    but what the claimed token or code hands down to it (citizen, scope, context)."""

    by_client: str
    access_hash: str
    refresh_hash: str
    now: datetime
    access_expires_at: datetime
    refresh_expires_at: datetime
    event: dict[str, Any]
    family_id: str  # a new family (a code's); a refresh's carries its own over


@dataclass(frozen=True)
class Issued:
    citizen_id: int
    scope: str
    nonce: str | None
    context: AuthContext


@contextmanager
def connection() -> Iterator[Connection]:
    """A connection of the engine for ``issue`` and the reads before it: in autocommit on
    PostgreSQL (a read is one round trip, without ``BEGIN`` and ``COMMIT``)."""
    with statement_by_statement(db.engine) as opened:
        yield opened


def rotate(connection: Connection, pair: Pair, *, presented_hash: str) -> Issued | None:
    """Claim a refresh token and write its successor, committed; None (nothing written) when
    it is not this client's to use now. ``connection`` is one of ``connection()``."""
    return _issue(connection, REFRESH, pair, {"hash": presented_hash})


def redeem(connection: Connection, pair: Pair, *, code_hash: str, redirect_uri: str,
           challenge: str) -> Issued | None:
    """Claim a code presented with its redirect URI and PKCE challenge and write the first
    pair of its family, committed; None (nothing written) otherwise."""
    return _issue(connection, CODE, pair, {"hash": code_hash, "presented_uri": redirect_uri,
                                           "presented_challenge": challenge})


def _issue(connection: Connection, grant: str, pair: Pair, claim: dict[str, Any]) -> Issued | None:
    claim = {**claim, "by_client": pair.by_client, "now": pair.now}
    if connection.dialect.name == "postgresql":
        event = pair.event
        row = connection.execute(_one_statement(grant), {
            **claim, "access_hash": pair.access_hash, "refresh_hash": pair.refresh_hash,
            "access_expires": pair.access_expires_at, "refresh_expires": pair.refresh_expires_at,
            "family": pair.family_id, "event_tag": event["tag"], "event_detail": event["detail"],
            "event_at": event["created_at"], "event_ip": event["ip"], "event_agent": event["user_agent"],
            "event_request": event["request_id"]}).first()
    else:
        row = connection.execute(_CLAIMS[grant], claim).first()
        if row is None:
            connection.rollback()
            return None
        refresh = grant == REFRESH
        connection.execute(_INSERT_PAIR, {
            "client_id": pair.by_client, "citizen_id": row.citizen_id, "access_token_hash": pair.access_hash,
            "refresh_token_hash": pair.refresh_hash, "scope": row.scope,
            "family_id": row.family_id if refresh else pair.family_id,
            "authorization_code_id": row.authorization_code_id if refresh else row.id, "sid": row.sid,
            "acr": row.acr, "amr": row.amr, "auth_time": row.auth_time, "claims_request": row.claims_request,
            "issued_at": pair.now, "access_expires_at": pair.access_expires_at,
            "refresh_expires_at": pair.refresh_expires_at, "refresh_used_at": None, "revoked_at": None})
        connection.execute(_INSERT_EVENT, {**pair.event, "citizen_id": row.citizen_id})
    connection.commit()
    if row is None:
        return None
    return Issued(row.citizen_id, row.scope, getattr(row, "nonce", None), context_of(row))


_CLAIMS: dict[str, Update] = {REFRESH: CLAIM_REFRESH, CODE: _CLAIM_CODE_AS_PRESENTED}


@cache
def _one_statement(grant: str) -> Executable:
    """PostgreSQL's claim, new pair and audit row in one ``WITH`` (built once per grant)."""
    claimed = _CLAIMS[grant].cte("claimed")
    by_client, now = bindparam("by_client", type_=String), bindparam("now", type_=DateTime())
    family, code_id = ((claimed.c.family_id, claimed.c.authorization_code_id) if grant == REFRESH
                       else (bindparam("family", type_=String), claimed.c.id))
    pair = select(
        by_client, claimed.c.citizen_id, bindparam("access_hash", type_=String),
        bindparam("refresh_hash", type_=String), claimed.c.scope, family, code_id, claimed.c.sid,
        claimed.c.acr, claimed.c.amr, claimed.c.auth_time, claimed.c.claims_request, now,
        bindparam("access_expires", type_=DateTime()), bindparam("refresh_expires", type_=DateTime()),
        null(), null())
    event = select(
        bindparam("event_tag", type_=String), claimed.c.citizen_id, by_client,
        bindparam("event_detail", type_=JSON), bindparam("event_at", type_=DateTime()),
        bindparam("event_ip", type_=String), bindparam("event_agent", type_=String),
        bindparam("event_request", type_=String))
    issued = insert(_TOKENS).from_select(
        ["client_id", "citizen_id", "access_token_hash", "refresh_token_hash", "scope", "family_id",
         "authorization_code_id", "sid", "acr", "amr", "auth_time", "claims_request", "issued_at",
         "access_expires_at", "refresh_expires_at", "refresh_used_at", "revoked_at"], pair).cte("issued")
    audited = insert(_AUDIT).from_select(
        ["tag", "citizen_id", "client_id", "detail", "created_at", "ip", "user_agent", "request_id"],
        event).cte("audited")
    return select(claimed).add_cte(issued, audited)
