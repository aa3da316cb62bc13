"""Each test starts from the migrated template, whatever the test before it on the same worker
did. On PostgreSQL the per-test databases come from a pool (tests.support.postgres): these
tests, one group on one worker and in this order, prove that a database given back is reset
(rows, sequences) and that one whose schema a test changed is not reused."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import func, inspect, select, text

from idp.database import alembic_config
from idp.extensions import db
from idp.models import Citizen
from tests.factories import make_citizen, make_client

pytestmark = pytest.mark.xdist_group("test-isolation")


def rows_written() -> dict[str, int]:
    counts = {name: db.session.execute(select(func.count()).select_from(table)).scalar_one()
              for name, table in db.metadata.tables.items()}
    return {name: count for name, count in counts.items() if count}


def test_a_test_writes_rows_in_its_database(app) -> None:
    first = make_citizen().citizen
    make_client()
    make_citizen()
    assert first.id == 1
    assert rows_written()


def test_the_next_test_finds_none_of_them_and_numbering_starts_again(app) -> None:
    assert rows_written() == {}
    head = ScriptDirectory.from_config(alembic_config(current_app)).get_current_head()
    assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
    assert make_citizen().citizen.id == 1
    assert db.session.execute(select(func.count()).select_from(Citizen)).scalar_one() == 1


def test_a_test_changes_the_schema_of_its_database(app) -> None:
    db.session.execute(text("CREATE TABLE left_behind (id integer)"))
    db.session.commit()
    assert "left_behind" in inspect(db.engine).get_table_names()


def test_the_next_test_finds_the_schema_as_migrated(app) -> None:
    assert "left_behind" not in inspect(db.engine).get_table_names()
    assert set(inspect(db.engine).get_table_names()) == {*db.metadata.tables, "alembic_version"}
    assert rows_written() == {}
