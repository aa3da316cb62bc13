"""Registered clients as this process last read them.

Every request of a relying party (the token endpoint, introspection, revocation, UserInfo)
names its client; its row changes only by operator command. So each process keeps the
enabled clients it has read for ``IDP_CLIENT_CACHE_SECONDS`` (30 by default) and reads the
row again after that (0: on every request). So:

* a client **disabled** (``idp client disable``) is refused by every process, with its
  tokens, within that time; until then a process that read it before may accept it;
* a client **enabled** again is accepted at once: only enabled clients are kept, an
  unknown or disabled id is read on each request (anyone can invent ids; a cache of them
  would only grow);
* after **a new secret** (``idp client rotate-secret``) the new one is accepted at once (a
  secret that does not match what a process kept makes it read the row again before the
  secret counts as wrong, ``client_auth``) and the old one stops within that time.
* any other change of the row (scopes, redirect URIs, keys) reaches a process within that
  time too.

What is kept is a transient ``Client``, never attached to a database session, shared by the
threads of the process and only read.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, select

from idp.clock import clock
from idp.extensions import db
from idp.oidc.models import Client

MAX_CLIENT_ID = 64  # the column's size: a longer id names no client

_CLIENTS = Client.__table__
_ENABLED_CLIENT = select(_CLIENTS).where(_CLIENTS.c.client_id == bindparam("client_id"),
                                         _CLIENTS.c.disabled_at.is_(None))


class ClientCache:
    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self._read: dict[str, tuple[datetime, Client]] = {}

    def get(self, client_id: str, *, fresh: bool = False) -> Client | None:
        now = clock.now()
        kept = None if fresh else self._read.get(client_id)
        # A clock set back (or moved by a test) must not stretch the lifetime either.
        if kept is not None and 0 <= (now - kept[0]).total_seconds() < self.seconds:
            return kept[1]
        row = db.session.execute(_ENABLED_CLIENT, {"client_id": client_id}).mappings().first()
        if row is None:
            self._read.pop(client_id, None)
            return None
        client = Client(**row)
        self._read[client_id] = (now, client)
        return client


def find_client(client_id: object, *, fresh: bool = False) -> Client | None:
    """The enabled client of this id, through this process's cache (``fresh``: read now)."""
    if not isinstance(client_id, str) or len(client_id) > MAX_CLIENT_ID:
        return None
    cache: ClientCache = current_app.extensions["idp.clients"]
    return cache.get(client_id, fresh=fresh)
