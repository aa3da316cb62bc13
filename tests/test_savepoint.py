"""``idp.connections.savepoint``: an exception undoes the block's changes alone, and a block
that succeeds leaves them in the caller's transaction, uncommitted, on SQLite as on
PostgreSQL (a SAVEPOINT that begins SQLite's transaction would commit it on release)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idp.clock import clock
from idp.connections import savepoint
from idp.extensions import db
from idp.oidc.models import UsedJwtId


class Refused(Exception):
    pass


def used(jti: str) -> None:
    db.session.add(UsedJwtId(jti_hash=jti, expires_at=clock.now() + timedelta(minutes=5)))
    db.session.flush()


def stored() -> set[str]:
    return set(db.session.scalars(db.select(UsedJwtId.jti_hash)))


def test_a_block_that_succeeds_as_the_first_write_is_still_undone_by_the_callers_rollback(app):
    with savepoint(db.session):
        used("in-block")

    db.session.rollback()

    assert "in-block" not in stored()


def test_a_block_that_fails_undoes_its_own_changes_and_keeps_the_callers(app):
    used("before")
    with pytest.raises(Refused), savepoint(db.session):
        used("in-block")
        raise Refused

    db.session.commit()

    assert {"before"} <= stored() and "in-block" not in stored()


def test_a_block_that_fails_first_leaves_the_callers_later_work_to_commit(app):
    with pytest.raises(Refused), savepoint(db.session):
        used("failed")
        raise Refused
    used("after")

    db.session.commit()

    assert "after" in stored() and "failed" not in stored()
