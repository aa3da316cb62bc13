"""A server database's pooled connections: tested before use only when they may be stale,
and no transaction around a statement that stands alone.

SQLAlchemy's ``pool_pre_ping`` sends a ping (one round trip) every time a connection leaves
the pool, that is once per request: on PostgreSQL, whose server shares the machine's cores,
that was one round trip in four of a UserInfo request. A connection can only have died
unnoticed if the server (or the network) dropped it after its last use; a server that went
away and came back needs more than ``IDLE_BEFORE_PING`` to do so, and while it is away a
ping could not save the request either. So a connection given back less than
``IDLE_BEFORE_PING`` ago is used as it is, and one idle for longer is pinged first and, if
the ping fails, replaced (SQLAlchemy reconnects on ``DisconnectionError``), as
``pool_pre_ping`` did. A connection that still fails in use (a network cut without a
restart) ends that request with the 503 of an outage and invalidates the pool, so the
worker's other connections are replaced too (``tests/test_database_outage.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

IDLE_BEFORE_PING = 1.0  # seconds
_RETURNED = "idp_returned_at"


def ping_when_idle(engine: Engine, idle: float = IDLE_BEFORE_PING) -> None:
    """Ping a connection as it leaves the pool only if it was idle for ``idle`` seconds."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned < idle:
            return  # just opened, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("a pooled connection did not answer its ping") from error


def statement_by_statement(engine: Engine) -> Connection:
    """A connection whose statements each stand alone: on a server database, in autocommit,
    so that no ``BEGIN`` and ``COMMIT``/``ROLLBACK`` round trips surround a lone read, or a
    write made of one statement (``idp.oidc.issuing``'s). SQLite sends no ``BEGIN`` for a
    read, and switching its connection's mode back would cost a statement: there, a plain
    connection, whose writes the caller commits."""
    connection = engine.connect()
    if engine.dialect.name == "sqlite":
        return connection
    return connection.execution_options(isolation_level="AUTOCOMMIT")


def insert_for(session: Session) -> Callable[..., Any]:
    """The ``insert`` of the session's database, PostgreSQL's or SQLite's, whose statements
    take ``ON CONFLICT``. Its dialect's module is imported here, at the first use: the
    engine imports its own dialect, and importing both with the models held the other's in
    every worker for nothing (SQLite's in a PostgreSQL worker, PostgreSQL's, 2 MB of
    modules, in a SQLite one); ``tests/test_dialect_imports.py``."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A part of the caller's unit of work that an exception undoes alone: its changes are
    rolled back to where the block began and the exception goes on; without one they stay in
    the caller's transaction, to be committed (or not) with it.

    On SQLite, Python's driver begins a transaction only before a write, and a ``SAVEPOINT``
    sent outside one begins it, so that its ``RELEASE`` would commit the caller's work behind
    its back (SQLAlchemy's pysqlite notes). A transaction is therefore begun first, and
    ``IMMEDIATE``, as the driver begins it before a write: the block is there to write, and a
    transaction that read first could not write after another process had (``SQLITE_BUSY``,
    with no wait), where one that waits for the write lock simply waits its turn."""
    if session.get_bind().dialect.name == "sqlite":
        driver = session.connection().connection.driver_connection
        if not driver.in_transaction:
            driver.execute("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield
