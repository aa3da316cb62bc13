"""A process's SQLite connections: one kept warm, which the threads of a worker take turns
on, and another opened only when that one stays taken.

SQLite keeps a page cache per connection and empties it whenever a transaction starts on
a database another connection has written since (a WAL read sees the change and resets
the cache). A worker whose threads each held a connection of a pool re-read the pages of
its requests from the file (a saturated refresh grant, 8 clients on one worker: 16 to 22
``pread`` calls per request, against 0.6 on one connection), and its writers met
SQLite's lock rather than each other: a thread that found another's write lock slept in
SQLite's busy handler (1, 2, 5 ms and more; 1.2 to 1.9 such sleeps per saturated refresh
grant, none on one connection) while the core had work to do.

On one connection the threads queue for it in the pool, woken as soon as it is returned,
and its cache stays warm across requests. A request keeps the connection for its unit of
work only (``idp.unit_of_work``): the named commits release it before argon2id hashes and
before an SMS leaves. Should a thread keep it while the others get no turn for ``STUCK``
(a client sending its body slowly to a route that read the database first, a client's
``jwks_uri`` being fetched, a write waiting for another process's lock), the next thread
opens a connection of its own, closed when it is returned: a slow client delays the
others of its worker by that much, never holds them. A thread that holds the connection
and asks for another (UserInfo's front reads the token on its own connection and, when
the client is not kept, the client through the session) gets one at once. Other
processes are other connections, as before: writers of several workers still meet
SQLite's lock and its ``busy_timeout``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.util import queue as sqla_queue

STUCK = 0.25  # seconds without a thread taking the kept connection: its holder is stuck
KEPT = 1  # connections kept per process
OVERFLOW = 10  # connections opened besides it at most (SQLAlchemy's default)


class KeptConnectionPool(QueuePool):
    """QueuePool that waits for the connection it keeps for as long as the threads before
    keep taking turns on it, and opens one more only once it has stayed taken for
    ``STUCK`` (QueuePool opens one at once while it may: ``max_overflow``), or at once for
    a thread that holds it already (a second connection of its own: it would wait on
    itself)."""

    _turned = 0.0  # when a thread last took the kept connection

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._holders: dict[int, int] = {}  # id of a taken connection's entry -> its thread
        self._opening = threading.Lock()  # the threads that come while it is being opened wait

    def _do_get(self) -> ConnectionPoolEntry:
        if threading.get_ident() in self._holders.values():
            return self._held(super()._do_get())  # it would wait on itself: one more at once
        with self._opening:
            if self._overflow < 0:  # the kept connection is not open yet
                self._turned = time.monotonic()
                return self._held(super()._do_get())
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                entry = self._pool.get(True, STUCK)
            except sqla_queue.Empty:
                now = time.monotonic()
                if now - self._turned < STUCK and now < deadline:
                    continue  # the threads before this one are being served: wait on
                return self._held(super()._do_get())
            self._turned = time.monotonic()
            return self._held(entry)

    def _held(self, entry: ConnectionPoolEntry) -> ConnectionPoolEntry:
        self._holders[id(entry)] = threading.get_ident()
        return entry

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        self._holders.pop(id(record), None)
        super()._do_return_conn(record)


def engine_options(database_url: str) -> dict[str, Any]:
    """The pool of a SQLite file database (an in-memory one keeps SQLAlchemy's own)."""
    if not database_url.startswith("sqlite") or ":memory:" in database_url or database_url in (
            "sqlite://", "sqlite:///"):
        return {}
    return {"poolclass": KeptConnectionPool, "pool_size": KEPT, "max_overflow": OVERFLOW}
