"""Throwaway PostgreSQL databases for the tests, on the server named by
``IDP_TEST_DATABASE_URL`` (``scripts/with-postgres.sh`` starts one and sets it).

Each pytest-xdist worker migrates its own template database once; every test then gets a
copy made by ``CREATE DATABASE … TEMPLATE``, which copies files and is far cheaper than
running the migrations again. Names carry the worker id so that workers never collide.
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
        """(name, URL) of a fresh copy of the migrated template."""
        name = f"test_{worker()}_{next(self._numbers)}"
        return name, self.create(name, template=self.template)

    def drop(self, name: str) -> None:
        """FORCE ends the connections still open (a CLI run, a server under test)."""
        self._admin().execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _admin(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            conninfo = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._connection = psycopg.connect(conninfo, autocommit=True)
        return self._connection
