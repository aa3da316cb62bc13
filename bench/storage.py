"""Database bytes and rows per table, read beside the running server.

SQLite: the ``dbstat`` virtual table (b-tree pages of each table and its indexes, WAL
included, since a reader sees the committed state). PostgreSQL:
``pg_total_relation_size`` (heap, indexes and TOAST). The difference between two
snapshots divided by the login sessions created in between is the database cost of one
login, split by table.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import create_engine, inspect, text

Snapshot = dict[str, dict[str, int]]


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def snapshot(database_url: str) -> Snapshot:
    """``{table: {"bytes": …, "rows": …}}`` for every application table."""
    if database_url.startswith("sqlite"):
        return _sqlite_snapshot(_sqlite_path(database_url))
    return _sql_snapshot(database_url)


def _sqlite_snapshot(path: str) -> Snapshot:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
        owner = dict(connection.execute("SELECT name, tbl_name FROM sqlite_master "
                                        "WHERE type IN ('table', 'index')").fetchall())
        tables: Snapshot = {}
        for name, used, size in connection.execute(
                "SELECT name, SUM(pgsize - unused), SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            if table.startswith("sqlite_"):
                continue
            entry = tables.setdefault(table, {"bytes": 0, "file_bytes": 0, "rows": 0})
            entry["bytes"] += used
            entry["file_bytes"] += size
        for table in tables:
            tables[table]["rows"] = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]  # noqa: S608
    return tables


def _sql_snapshot(url: str) -> Snapshot:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables: Snapshot = {}
            for table in inspect(connection).get_table_names():
                size = connection.execute(text("SELECT pg_total_relation_size(:t)"), {"t": table}).scalar()
                rows = connection.execute(text(f'SELECT COUNT(*) FROM "{table}"')).scalar()  # noqa: S608
                tables[table] = {"bytes": int(size or 0), "rows": int(rows or 0)}
            return tables
    finally:
        engine.dispose()


def per_session(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """What one new login session adds to the database, per table.

    On SQLite "bytes" are the bytes in use in the b-tree pages (``pgsize - unused``), which
    grow smoothly row by row; on PostgreSQL they are whole 8 KiB pages, so a short run's
    figure is lumpy and only a long one (``make bench``) amortises it.
    """
    def sessions_in(snap: Snapshot) -> int:
        return snap.get("login_sessions", {}).get("rows", 0)

    sessions = sessions_in(after) - sessions_in(before)
    if sessions <= 0:
        return {"sessions": 0}
    by_table = {}
    for table, now in after.items():
        then = before.get(table, {"bytes": 0, "rows": 0})
        grown, rows = now["bytes"] - then["bytes"], now["rows"] - then["rows"]
        if rows <= 0 and grown <= 0:
            continue
        by_table[table] = {"rows_per_session": round(rows / sessions, 2),
                           "bytes_per_row": round(grown / rows) if rows > 0 else None,
                           "bytes_per_session": round(grown / sessions)}
    return {"sessions": sessions,
            "bytes_per_session": sum(v["bytes_per_session"] for v in by_table.values()),
            "file_growth_per_session": round((total_bytes(after, "file_bytes")
                                              - total_bytes(before, "file_bytes")) / sessions),
            "by_table": dict(sorted(by_table.items(), key=lambda kv: -kv[1]["bytes_per_session"]))}


def total_bytes(snap: Snapshot, key: str = "file_bytes") -> int:
    """Bytes the database files hold (PostgreSQL has only whole-page sizes)."""
    return sum(v.get(key, v["bytes"]) for v in snap.values())
