"""A process's SQLite connections (idp.sqlite_pool): the threads of a worker take turns on
one connection, whose page cache stays warm, and a thread that keeps it too long delays
the others by ``STUCK`` at most."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.pool import QueuePool

from idp import sqlite_pool
from idp.extensions import db
from tests.conftest import POSTGRES

pytestmark = pytest.mark.skipif(bool(POSTGRES), reason="the pool of a SQLite file")
THREADS = 4


def connections_opened(app: Flask) -> list[object]:
    """Every DBAPI connection the app's engine opens from now on."""
    opened: list[object] = []
    with app.app_context():
        event.listen(db.engine, "connect", lambda connection, _record: opened.append(connection))
    return opened


def readyz(app: Flask) -> int:
    return app.test_client().get("/readyz").status_code


def test_overlapping_requests_of_a_process_share_one_sqlite_connection(app):
    opened = connections_opened(app)
    with ThreadPoolExecutor(max_workers=THREADS) as threads:
        answers = list(threads.map(lambda _: readyz(app), range(20 * THREADS)))
    assert answers == [200] * len(answers)
    assert len(opened) == 1


def test_a_thread_keeping_the_connection_delays_the_others_by_the_stuck_time_at_most(app):
    assert readyz(app) == 200  # the kept connection is open
    opened = connections_opened(app)
    taken, release = threading.Event(), threading.Event()

    def keep() -> None:  # as a request whose client sends its body slowly
        with app.app_context(), db.engine.connect():
            taken.set()
            release.wait(10)

    keeper = threading.Thread(target=keep)
    keeper.start()
    try:
        assert taken.wait(10)
        started = time.monotonic()
        assert readyz(app) == 200
        assert time.monotonic() - started < sqlite_pool.STUCK + 1
    finally:
        release.set()
        keeper.join()
    assert len(opened) == 1  # one more, for the request that could not wait
    with app.app_context():
        pool = db.engine.pool
        assert (pool.checkedout(), pool.checkedin()) == (0, 1)  # and closed when it was returned


def test_a_thread_waits_for_the_kept_connection_while_it_is_passed_on(app):
    assert readyz(app) == 200
    opened = connections_opened(app)

    def hold_briefly(_: int) -> None:  # each for half of STUCK: the last of four waits 1.5 times it
        with app.app_context(), db.engine.connect():
            time.sleep(sqlite_pool.STUCK / 2)

    with ThreadPoolExecutor(max_workers=THREADS) as threads:
        list(threads.map(hold_briefly, range(3 * THREADS)))
    assert opened == []  # waited in turn longer than STUCK, never opened another


def test_a_thread_that_holds_the_connection_is_given_a_second_one_at_once(app):
    # UserInfo's front reads the token on a connection of its own and, when this process
    # has not kept the client's row, reads it through the session (bearer.token_in_force).
    assert readyz(app) == 200
    opened = connections_opened(app)
    with app.app_context(), db.engine.connect():
        started = time.monotonic()
        with db.engine.connect():
            assert time.monotonic() - started < sqlite_pool.STUCK / 2
    assert len(opened) == 1


def test_a_server_database_keeps_sqlalchemys_pool():
    assert sqlite_pool.engine_options("postgresql+psycopg://idp@localhost/idp") == {}
    assert sqlite_pool.engine_options("sqlite://") == {}
    kept = sqlite_pool.engine_options("sqlite:////srv/idp/idp.sqlite3")
    assert issubclass(kept["poolclass"], QueuePool) and kept["pool_size"] == 1
