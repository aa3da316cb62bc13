"""Each test gets its own app, database file, keys and SMS file; nothing is shared mutably."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from idp import create_app
from idp.clock import clock
from idp.database import upgrade
from idp.oidc.keys import ensure_keys

FAST_ARGON2 = {"IDP_ARGON2_MEMORY_KIB": 1024, "IDP_ARGON2_TIME_COST": 1}


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database and a set of keys, made once and copied into each test."""
    base = tmp_path_factory.mktemp("template")
    app = create_app(IDP_DATABASE_URL=f"sqlite:///{base / 'idp.sqlite3'}",
                     IDP_KEYS_DIR=str(base / "keys"), IDP_SECRET_KEY="template")
    with app.app_context():
        upgrade(app)
    ensure_keys(base / "keys")
    return base


def prepare_files(template_dir: Path, tmp_path: Path) -> None:
    shutil.copy(template_dir / "idp.sqlite3", tmp_path / "idp.sqlite3")
    shutil.copytree(template_dir / "keys", tmp_path / "keys")


def build_app(tmp_path: Path, **overrides: object) -> Flask:
    settings = {
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}",
        "IDP_KEYS_DIR": str(tmp_path / "keys"),
        "IDP_SECRET_KEY": "test-secret-key-not-for-production",
        "IDP_SMS_BACKEND": f"file:{tmp_path / 'sms.jsonl'}",
        "IDP_ISSUER": "http://localhost",
        **FAST_ARGON2,
        **overrides,
    }
    app = create_app(**settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(template_dir: Path, tmp_path: Path) -> Flask:
    """The server the browser talks to.

    The test's own code (factories, assertions on the database) runs in the context of a
    twin app on the same files: Flask reuses an already pushed context of the *same* app
    for test-client requests, which would share ``g`` between the test and every request.
    """
    prepare_files(template_dir, tmp_path)
    server, twin = build_app(tmp_path), build_app(tmp_path)
    ctx = twin.test_request_context()
    ctx.push()
    yield server
    ctx.pop()
    from idp.extensions import db

    for application in (server, twin):
        with application.app_context():
            db.engine.dispose()


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
