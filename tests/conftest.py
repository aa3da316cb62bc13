"""Each test gets its own app, database, keys and SMS file; nothing is shared mutably.

The database is a SQLite file, or, when ``IDP_TEST_DATABASE_URL`` names a PostgreSQL server
(``make test`` runs the suite a second time under ``scripts/with-postgres.sh``), a database
of its own on that server (from the worker's pool: tests.support.postgres). Either way it is
a copy of a template migrated once per worker.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, event

from idp import create_app
from idp.clock import clock
from idp.database import upgrade
from idp.firma.ca import ensure_ca
from idp.oidc.keys import ensure_keys
from tests.support.compiled import TEMPLATES
from tests.support.postgres import PostgresServer

FAST_ARGON2 = {"IDP_ARGON2_MEMORY_KIB": 1024, "IDP_ARGON2_TIME_COST": 1}
POSTGRES = PostgresServer.from_environment()

# What the current test made: its database (by tmp_path), its PostgreSQL databases to give back,
# and every engine that connected (the test's apps, and those the CLI builds from IDP_*),
# held until the test ends so that none is garbage-collected with connections still open.
_database_urls: dict[Path, str] = {}
_databases: list[str] = []
_engines: set[Engine] = set()


@event.listens_for(Engine, "engine_connect")
def _remember_engine(connection) -> None:  # type: ignore[no-untyped-def]
    _engines.add(connection.engine)


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A migrated database and a set of keys, made once and copied into each test."""
    base = tmp_path_factory.mktemp("template")
    if POSTGRES:
        url = POSTGRES.create(POSTGRES.template)
    else:
        url = f"sqlite:///{base / 'idp.sqlite3'}"
    app = create_app(IDP_DATABASE_URL=url, IDP_KEYS_DIR=str(base / "keys"), IDP_SECRET_KEY="template")
    with app.app_context():
        upgrade(app)
    _dispose(app)  # CREATE DATABASE … TEMPLATE refuses a template with open connections
    ensure_keys(base / "keys")
    ensure_ca(base / "keys")
    yield base
    if POSTGRES:
        POSTGRES.drop(POSTGRES.template)
        POSTGRES.close()


def prepare_files(template_dir: Path, tmp_path: Path) -> None:
    """Copy the template's keys and database for a test's ``build_app(tmp_path)``."""
    shutil.copytree(template_dir / "keys", tmp_path / "keys")
    if POSTGRES:
        name, _database_urls[tmp_path] = POSTGRES.create_for_test()
        _databases.append(name)
    else:
        shutil.copy(template_dir / "idp.sqlite3", tmp_path / "idp.sqlite3")


def build_app(tmp_path: Path, **overrides: object) -> Flask:
    settings = {
        "IDP_DATABASE_URL": _database_urls.get(tmp_path, f"sqlite:///{tmp_path / 'idp.sqlite3'}"),
        "IDP_KEYS_DIR": str(tmp_path / "keys"),
        "IDP_SECRET_KEY": "test-secret-key-not-for-production",
        "IDP_SMS_BACKEND": f"file:{tmp_path / 'sms.jsonl'}",
        "IDP_ISSUER": "http://localhost",
        **FAST_ARGON2,
        **overrides,
    }
    app = create_app(**settings)
    app.config["TESTING"] = True
    app.jinja_env.bytecode_cache = TEMPLATES  # compiled once per worker (tests/support/compiled.py)
    return app


def _dispose(app: Flask) -> None:
    from idp.extensions import db

    with app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _throwaway_databases():
    """Autouse, so set up before and torn down after every fixture that builds an app.

    Pooled connections are closed here, not left to the garbage collector: psycopg warns
    about a connection deleted while open, and warnings are errors in this suite.
    """
    yield
    while _engines:
        _engines.pop().dispose()
    while _databases:
        POSTGRES.release(_databases.pop())  # type: ignore[union-attr]
    _database_urls.clear()


@pytest.fixture
def app(template_dir: Path, tmp_path: Path) -> Iterator[Flask]:
    """The server the browser talks to.

    The test's own code (factories, assertions on the database) runs in the context of a
    twin app on the same database: Flask reuses an already pushed context of the *same* app
    for test-client requests, which would share ``g`` between the test and every request.
    """
    prepare_files(template_dir, tmp_path)
    server, twin = build_app(tmp_path), build_app(tmp_path)
    ctx = twin.test_request_context()
    ctx.push()
    yield server
    ctx.pop()


@pytest.fixture
def browser(app: Flask):
    """A test client that behaves like a browser (cookies kept)."""
    return app.test_client()


@pytest.fixture
def sms_file(app: Flask) -> Path:
    return Path(app.config["IDP_SMS_BACKEND"].removeprefix("file:"))


@pytest.fixture(autouse=True)
def _reset_clock():
    clock.reset()
    yield
    clock.reset()

