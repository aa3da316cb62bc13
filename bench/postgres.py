"""PostgreSQL for the benchmark: a throwaway cluster, its settings, and the pool in front.

``IDP_BENCH_DATABASE_URL`` names an empty database to use as it is. Otherwise the run starts
its own cluster through ``scripts/with-postgres.sh`` (the one the tests use; it stops and
deletes the cluster when its command ends, so when the benchmark ends, however it ends) and
turns durability back on, since that script trades it for speed: figures of a server that
may lose committed logins would flatter us. Without the server binaries the report says so.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

from idp.connections import IDLE_BEFORE_PING
from idp.serving import WORKER_OPTIONS

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "with-postgres.sh"
DURABLE = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}
SHOWN = ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers",
         "max_connections")


class Unavailable(Exception):
    pass


class Cluster:
    """A cluster of ``scripts/with-postgres.sh`` kept up while this object is open."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.admin_url = ""

    def __enter__(self) -> Cluster:
        with self.log_path.open("w") as log:
            # The command prints the cluster's URL, then waits for its stdin to close.
            self.process = subprocess.Popen(  # noqa: S603 - our own script
                [str(SCRIPT), "sh", "-c", 'printf "%s\\n" "$IDP_TEST_DATABASE_URL"; exec cat >/dev/null'],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 120)
        line = self.process.stdout.readline().strip() if ready else ""
        if not line:
            self.__exit__(None, None, None)
            reason = self.log_path.read_text().strip().splitlines()[-1:] or ["no output"]
            raise Unavailable(reason[0])
        self.admin_url = line
        with _autocommit(self.admin_url) as connection:
            for name, value in DURABLE.items():
                connection.execute(text(f"ALTER SYSTEM SET {name} = {value}"))
            connection.execute(text("SELECT pg_reload_conf()"))
        time.sleep(0.2)  # the reload is signalled, not waited for
        return self

    def database(self, name: str) -> str:
        """A new, empty database on the cluster; its URL."""
        with _autocommit(self.admin_url) as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


@contextmanager
def _autocommit(url: str) -> Iterator[Connection]:
    """A connection outside any transaction (``CREATE DATABASE`` and ``ALTER SYSTEM`` need it)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def server_settings(url: str) -> dict[str, str]:
    """What a reader needs to judge the PostgreSQL figures."""
    with _autocommit(url) as connection:
        return {name: str(connection.execute(text(f"SHOW {name}")).scalar()) for name in SHOWN}


def postmaster_pid(url: str) -> int | None:
    """The server's main process when it runs on this machine and its files are readable
    (so that it can be pinned and its CPU counted); None otherwise."""
    try:
        with _autocommit(url) as connection:
            directory = connection.execute(text("SHOW data_directory")).scalar()
        first = Path(str(directory), "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first)
        os.sched_getaffinity(pid)
        return pid
    except Exception:  # noqa: BLE001 - a remote or foreign server: measured unpinned
        return None


def pool_settings(app: Flask) -> dict[str, Any]:
    """The SQLAlchemy pool each worker process has, as ``create_app`` built it."""
    from idp.extensions import db

    with app.app_context():
        pool, dialect = db.engine.pool, db.engine.dialect.name
    return {"pool": type(pool).__name__, "pool_size": pool.size() if hasattr(pool, "size") else None,
            "max_overflow": getattr(pool, "_max_overflow", None),
            "timeout_s": getattr(pool, "_timeout", None), "pre_ping": getattr(pool, "_pre_ping", None),
            "ping_after_idle_s": None if dialect == "sqlite" else IDLE_BEFORE_PING,
            "threads_per_worker": WORKER_OPTIONS["threads"]}


def ping_text(settings: dict[str, Any]) -> str:
    """How a pooled connection is tested before use, in the report's words."""
    if settings.get("ping_after_idle_s"):
        return f"pinged when idle over {settings['ping_after_idle_s']:g} s"
    return f"pre-ping {'on' if settings.get('pre_ping') else 'off'}"
