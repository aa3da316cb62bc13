"""A worker imports the SQLAlchemy dialect of its own database only: the statements that
take ``ON CONFLICT`` get their dialect's ``insert`` at their first use
(``idp.connections.insert_for``), not both dialects with the models."""

from __future__ import annotations

import subprocess
import sys

import pytest

WORKER = """
import sys
from idp import create_app
from idp.connections import insert_for
from idp.extensions import db
from idp.oidc.models import UsedJwtId

app = create_app(IDP_DATABASE_URL=sys.argv[1], IDP_KEYS_DIR=sys.argv[2], IDP_SECRET_KEY="x" * 32)
with app.app_context():  # the statement is built, not run: no connection is made
    insert_for(db.session)(UsedJwtId).on_conflict_do_nothing()
print(" ".join(name.rsplit(".", 1)[1] for name in ("sqlalchemy.dialects.postgresql",
                                                   "sqlalchemy.dialects.sqlite") if name in sys.modules))
"""


@pytest.mark.parametrize(("url", "dialect"), [
    ("sqlite:///{tmp}/idp.sqlite3", "sqlite"),
    ("postgresql+psycopg://idp@127.0.0.1:9/idp", "postgresql"),  # nothing listens: never reached
])
def test_a_worker_imports_the_dialect_of_its_own_database_only(tmp_path, url, dialect):
    run = subprocess.run([sys.executable, "-c", WORKER, url.format(tmp=tmp_path), str(tmp_path / "keys")],
                         capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.split() == [dialect], run.stdout + run.stderr
