"""A refresh token's rotation as the token endpoint's front makes it (``endpoints/token``):
on a connection of the engine rather than the request's session, the same claim as
``tokens.claim_refresh_token`` (``tokens._CLAIM_REFRESH``), the same new pair as
``tokens.save_token`` and the same audit row as ``record_event``, committed together.

* PostgreSQL: one statement, in autocommit: the claim, the new pair and the audit row are
  the data-modifying parts of one ``WITH``, which is its own transaction. The claim's row
  lock and its ``FOR SHARE`` on the session's row last until the new pair is committed, as
  in the route's transaction, and a parallel claim of the same token waits for it and then
  finds it used. One round trip where the route's unit of work takes five (``BEGIN``, three
  statements, ``COMMIT``), while the database server may share the IdP's core.
* SQLite: the same three statements in one transaction (in process, nothing to save).

A claim that finds nothing writes nothing (the inserts take their rows from the claim's):
the route then answers, with what a refusal writes (a replay's revocation, its audit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Executable, String, bindparam, insert, null, select

from idp.models import AuditEvent
from idp.oidc.id_token import AuthContext
from idp.oidc.models import Token
from idp.oidc.tokens import CLAIM_REFRESH, context_of

_TOKENS = Token.__table__
_AUDIT = AuditEvent.__table__


@dataclass(frozen=True)
class Rotation:
    """The new pair (its hashes and lifetimes) and its audit row (``audit.event_row``), all
    but what the claimed token hands down to it (its citizen, scope, family, context)."""

    by_client: str
    presented_hash: str
    access_hash: str
    refresh_hash: str
    now: datetime
    access_expires_at: datetime
    refresh_expires_at: datetime
    event: dict[str, Any]


@dataclass(frozen=True)
class Rotated:
    citizen_id: int
    scope: str
    context: AuthContext


def rotate(connection: Connection, rotation: Rotation) -> Rotated | None:
    """Claim the presented refresh token and write its successor, committed; None (nothing
    written) when it is not this client's to use now."""
    claim = {"hash": rotation.presented_hash, "by_client": rotation.by_client, "now": rotation.now}
    if connection.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        event = rotation.event
        row = connection.execute(_one_statement(), {
            **claim, "access_hash": rotation.access_hash, "refresh_hash": rotation.refresh_hash,
            "access_expires": rotation.access_expires_at, "refresh_expires": rotation.refresh_expires_at,
            "event_tag": event["tag"], "event_detail": event["detail"], "event_at": event["created_at"],
            "event_ip": event["ip"], "event_agent": event["user_agent"],
            "event_request": event["request_id"]}).first()
    else:
        row = connection.execute(CLAIM_REFRESH, claim).first()
        if row is None:
            connection.rollback()
            return None
        connection.execute(_TOKENS.insert(), {
            "client_id": rotation.by_client, "citizen_id": row.citizen_id,
            "access_token_hash": rotation.access_hash, "refresh_token_hash": rotation.refresh_hash,
            "scope": row.scope, "family_id": row.family_id,
            "authorization_code_id": row.authorization_code_id, "sid": row.sid, "acr": row.acr,
            "amr": row.amr, "auth_time": row.auth_time,
            "claims_request": row.claims_request, "issued_at": rotation.now,
            "access_expires_at": rotation.access_expires_at,
            "refresh_expires_at": rotation.refresh_expires_at,
            "refresh_used_at": None, "revoked_at": None})
        connection.execute(_AUDIT.insert(), {**rotation.event, "citizen_id": row.citizen_id})
    connection.commit()
    return None if row is None else Rotated(row.citizen_id, row.scope, context_of(row))


@cache
def _one_statement() -> Executable:
    """PostgreSQL's claim, new pair and audit row in one ``WITH`` (built once)."""
    claimed = CLAIM_REFRESH.cte("claimed")
    by_client, now = bindparam("by_client", type_=String), bindparam("now", type_=DateTime())
    pair = select(
        by_client, claimed.c.citizen_id, bindparam("access_hash", type_=String),
        bindparam("refresh_hash", type_=String), claimed.c.scope, claimed.c.family_id,
        claimed.c.authorization_code_id, claimed.c.sid, claimed.c.acr, claimed.c.amr, claimed.c.auth_time,
        claimed.c.claims_request, now, bindparam("access_expires", type_=DateTime()),
        bindparam("refresh_expires", type_=DateTime()), null(), null())
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
