"""The Alembic migrations build exactly the schema the models describe, on whichever database
the suite runs against (SQLite, or PostgreSQL under ``scripts/with-postgres.sh``), from an
empty database and from one left at an older revision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect

from idp import create_app
from idp.database import alembic_config, upgrade
from idp.extensions import db
from tests.conftest import POSTGRES
from tests.support.postgres import worker


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a database with no tables at all (not a copy of the test template)."""
    name = f"migrations_{worker()}"
    url = POSTGRES.create(name) if POSTGRES else f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    app = create_app(IDP_DATABASE_URL=url, IDP_KEYS_DIR=str(tmp_path / "keys"), IDP_SECRET_KEY="migrations")
    with app.app_context():
        yield app
        db.engine.dispose()
    if POSTGRES:
        POSTGRES.drop(name)


def differences_from_models() -> list:
    """What ``alembic revision --autogenerate`` would write: nothing, when they agree."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_an_empty_database_upgraded_to_head_matches_the_models(empty_app):
    assert tables() == set()
    upgrade(empty_app)
    assert tables() == set(db.metadata.tables)
    assert differences_from_models() == []


def test_a_database_at_the_previous_revision_upgrades_to_head_matching_the_models(empty_app):
    scripts = ScriptDirectory.from_config(alembic_config(empty_app))
    previous = scripts.get_revision(scripts.get_current_head()).down_revision
    assert previous is not None, "the oldest revision is covered by the empty database test"
    upgrade(empty_app, previous)
    assert differences_from_models() != []
    upgrade(empty_app)
    assert differences_from_models() == []


def test_downgrading_to_base_drops_every_table_and_upgrading_again_restores_them(empty_app):
    upgrade(empty_app)
    command.downgrade(alembic_config(empty_app), "base")
    assert tables() == set()
    upgrade(empty_app)
    assert differences_from_models() == []
