"""Throwaway PostgreSQL databases for the tests, on the server named by
``IDP_TEST_DATABASE_URL`` (``scripts/with-postgres.sh`` starts one and sets it).

Each pytest-xdist worker migrates its own template database once and makes copies of it by
``CREATE DATABASE … TEMPLATE``, which copies files and is far cheaper than running the
migrations again. A test takes a copy from the worker's pool and gives it back when it ends:
its connections are ended (as ``DROP DATABASE … WITH (FORCE)`` would), the tables it wrote
to are truncated, the template's rows put back and every sequence set back, which costs a
fraction of a new copy and its drop. A copy whose schema a test changed (any DDL, seen by an
event trigger) is dropped instead, never reused. Names carry the worker id so that workers
never collide.
"""

from __future__ import annotations

import itertools
import os

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ENVIRONMENT = "IDP_TEST_DATABASE_URL"


def worker() -> str:
    """``gw0``, ``gw1``… under pytest-xdist; ``main`` without it."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class PostgresServer:
    """Creates and drops databases through one autocommit connection to the server's
    maintenance database (``CREATE DATABASE`` cannot run inside a transaction)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.template = f"idp_template_{worker()}"
        self._numbers = itertools.count(1)
        self._connection: psycopg.Connection | None = None
        self._copies: dict[str, _Copy] = {}  # every copy made, with its reset connection
        self._pool: list[str] = []  # the copies no test holds

    @classmethod
    def from_environment(cls) -> PostgresServer | None:
        url = os.environ.get(ENVIRONMENT)
        return cls(url) if url else None

    def database_url(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name`` on this server."""
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        """A new database (a leftover of an interrupted run with that name is dropped)."""
        self.drop(name)
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        admin = self._admin()
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            if admin.info.server_version >= 150000:
                # Copying the files beats the default WAL_LOG strategy (about 7 times on a
                # template this small) when, as in a throwaway cluster, fsync is off.
                statement += sql.SQL(" STRATEGY FILE_COPY")
        admin.execute(statement)
        return self.database_url(name)

    def create_for_test(self) -> tuple[str, str]:
        """(name, URL) of a database as the migrated template is: from the pool, or a new copy."""
        if self._pool:
            name = self._pool.pop()
        else:
            name = f"test_{worker()}_{next(self._numbers)}"
            self.create(name, template=self.template)
            self._copies[name] = _Copy.install(self.database_url(name))
        return name, self.database_url(name)

    def release(self, name: str) -> None:
        """Give back a database from ``create_for_test``: reset for the next test, or dropped
        when the test changed its schema."""
        copy = self._copies.pop(name)
        if copy.reset():
            self._copies[name] = copy
            self._pool.append(name)
        else:
            copy.close()
            self.drop(name)

    def drop(self, name: str) -> None:
        """FORCE ends the connections still open (a CLI run, a server under test)."""
        self._admin().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        for name, copy in list(self._copies.items()):
            copy.close()
            self.drop(name)
        self._copies.clear()
        self._pool.clear()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _admin(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._connection = psycopg.connect(conninfo, autocommit=True)
        return self._connection


# Kept out of the application's schema, so that nothing the tests inspect sees them.
_INSTALL = """
CREATE SCHEMA idp_test;
CREATE TABLE idp_test.schema_changes (command text NOT NULL);
CREATE FUNCTION idp_test.note_schema_change() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO idp_test.schema_changes SELECT command_tag FROM pg_event_trigger_ddl_commands();
END $$;
CREATE FUNCTION idp_test.note_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO idp_test.schema_changes VALUES ('DROP');
END $$;
CREATE EVENT TRIGGER idp_test_schema_changes ON ddl_command_end
    EXECUTE FUNCTION idp_test.note_schema_change();
CREATE EVENT TRIGGER idp_test_drops ON sql_drop EXECUTE FUNCTION idp_test.note_drop();
"""


class _Copy:
    """A pooled copy of the template, and the statements that bring it back to the template's
    state: the tables' rows and the sequences' positions as the migrations left them."""

    @classmethod
    def install(cls, url: str) -> _Copy:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(conninfo, autocommit=True)
        connection.execute(_INSTALL)
        tables = [row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        kept: list[str] = []  # what the template holds (Alembic's version row), put back as it was
        for table in tables:
            rows = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(table))).fetchone()[0]  # type: ignore[index]
            if rows:
                kept.append(table)
                connection.execute(sql.SQL("CREATE TABLE idp_test.{} AS TABLE {}").format(
                    sql.Identifier(table), sql.Identifier(table)))
        statements = [sql.SQL("DELETE FROM {table}; INSERT INTO {table} TABLE idp_test.{table}")
                      .format(table=sql.Identifier(table)) for table in kept]
        for schema, sequence, last_value, start_value in connection.execute(
                "SELECT schemaname, sequencename, last_value, start_value FROM pg_sequences "
                "WHERE schemaname = 'public'"):
            position = sql.Literal(start_value if last_value is None else last_value)
            called = sql.Literal(last_value is not None)
            statements.append(sql.SQL("SELECT setval({}, {}, {})").format(
                sql.Literal(f"{schema}.{sequence}"), position, called))
        connection.execute("DELETE FROM idp_test.schema_changes")  # the snapshots' own CREATE TABLE
        return cls(connection, sql.SQL("; ").join(statements), kept)

    def __init__(self, connection: psycopg.Connection, restore: sql.Composable, kept: list[str]) -> None:
        self._connection = connection
        self._restore = restore
        self._kept = kept

    def reset(self) -> bool:
        """End the test's connections and empty what it wrote; False (nothing reset) when
        it changed the schema."""
        self._connection.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        if self._connection.execute("SELECT count(*) FROM idp_test.schema_changes").fetchone()[0]:  # type: ignore[index]
            return False
        # The tables the test wrote to (their files grew; the template's are empty) start again
        # from empty files, as in a new copy: rows come back in the order they were written,
        # which DELETE, leaving space that later rows fill out of order, would not keep.
        written = [row[0] for row in self._connection.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            "AND relkind = 'r' AND pg_relation_size(oid) > 0 AND relname <> ALL(%s)", [self._kept])]
        with self._connection.transaction():
            if written:
                self._connection.execute(sql.SQL("TRUNCATE {} CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(table) for table in written)))
            self._connection.execute(self._restore)
        return True

    def close(self) -> None:
        self._connection.close()
