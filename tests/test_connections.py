"""A PostgreSQL connection is pinged as it leaves the pool only when it may be stale, and a
lone read runs outside any transaction. Both run in the PostgreSQL pass of ``make test``
(a SQLite file has neither a ping nor a round trip to save)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from idp import connections
from idp.connections import IDLE_BEFORE_PING, statement_by_statement
from idp.extensions import db
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.skipif(PostgresServer.from_environment() is None,
                                reason="runs in the PostgreSQL pass of make test (scripts/with-postgres.sh)")


class Clock:
    """``time.monotonic`` of idp.connections, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):  # type: ignore[no-untyped-def]
    moved = Clock()
    monkeypatch.setattr(connections, "time", moved)
    return moved


def pooled_backend() -> int:
    """The server process of the one connection left in the pool, checked in."""
    db.engine.dispose()
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(backend: int) -> None:
    """What a restart or failover does to a pooled connection, done from outside the pool."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (backend,))


def test_a_connection_idle_longer_than_the_threshold_is_pinged_and_replaced_when_dead(app, clock):
    backend = pooled_backend()
    terminate(backend)
    clock.now += IDLE_BEFORE_PING + 0.1

    with db.engine.connect() as connection:
        served_by = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()

    assert served_by != backend


def test_a_connection_given_back_a_moment_ago_is_used_without_a_ping(app, clock):
    backend = pooled_backend()
    terminate(backend)
    clock.now += IDLE_BEFORE_PING / 2

    # No ping: the dead connection is used and fails (a request would answer 503), and the
    # failure replaces it; the next use gets a live one.
    with pytest.raises(OperationalError), db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != backend


def test_a_lone_read_opens_no_transaction_and_the_next_connection_does_again(app):
    with statement_by_statement(db.engine) as connection:
        assert connection.execute(select(1)).scalar_one() == 1
        assert connection.connection.dbapi_connection.info.transaction_status == TransactionStatus.IDLE

    with db.engine.connect() as connection:
        connection.execute(select(1))
        assert connection.connection.dbapi_connection.info.transaction_status == TransactionStatus.INTRANS
