"""One unit of work per request, as Warehouse has it with pyramid_tm: what a request changes
is committed once, when its view has answered, and rolled back when it raised.

Helpers flush when they need ids; views do not commit; ``record_event`` never commits (an
event is written by the commit of the unit of work it belongs to). A view's answer commits
whatever its status: a refusal (400, 401, 429) carries the counter and the audit event it
led to, which must outlive it, and has not changed what it refused (every check comes
before the change it guards). Only an exception rolls back.

The few commits that must happen at another moment are named in ``CommitReason`` and made
only through ``commit_now`` and ``after_commit``, so that a grep finds them all; the commit
policy in docs/architecture.md gives each its reason. Outside requests (CLI commands, the
back-channel Courier) ``transaction()`` is the unit of work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from blinker import Namespace
from flask import Flask, Response, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from idp.extensions import db

log = logging.getLogger("idp.unit_of_work")
_signals = Namespace()
# Sent with the reason of every commit made besides the request's own (tests count them).
extra_commit = _signals.signal("idp.extra-commit")
_FAILED = "idp_unit_of_work_failed"
_AFTER = "idp_after_commit"
_WROTE = "idp.wrote"


class CommitReason(StrEnum):
    """Why a request commits besides its own commit at the end (docs/architecture.md)."""

    # Before argon2id checks a password: the rate-limit slot the attempt took is seen by
    # every process before this one spends the hash's time, and no lock is held meanwhile.
    BEFORE_ARGON2 = "before_argon2"
    # Before an SMS leaves: what it tells of (its code, the change a notice announces) is
    # stored first, and no lock is held while the gateway answers.
    BEFORE_SMS = "before_sms"
    # After the request's commit, in a short transaction of its own: a session's last use,
    # written at most once a minute, so that no request holds the session's row (where a
    # logout and the token endpoint meet) for its whole length.
    SESSION_TOUCH = "session_touch"


def commit_now(reason: CommitReason) -> None:
    """Commit what the request has done so far, for one of the named reasons."""
    db.session.commit()
    extra_commit.send(reason)


def after_commit(reason: CommitReason, action: Callable[[], None]) -> None:
    """Run ``action`` in a transaction of its own once this request's work is committed
    (not when the request fails)."""
    g.setdefault(_AFTER, []).append((reason, action))


def note_write() -> None:
    """Something waits in the session to be written at commit (an audit event)."""
    db.session.info[_WROTE] = True


def abandon() -> None:
    """The request failed: roll back what it did, and commit nothing more of it."""
    g.pop(_AFTER, None)
    if has_request_context():
        setattr(g, _FAILED, True)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the session may be unusable; nothing more to do
        log.warning("rollback failed")


@contextmanager
def transaction() -> Iterator[None]:
    """A unit of work outside a request (a CLI command, the back-channel Courier):
    committed when the block ends, rolled back if it raises."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


def init_app(app: Flask) -> None:
    """Commit each request's work once its view has answered. Registered after the other
    ``after_request`` hooks, so that it runs first: they then see the answer a failed
    commit is turned into."""

    @app.after_request
    def _commit(response: Response) -> Response:
        if g.pop(_FAILED, False):
            return response
        try:
            if _wrote():
                db.session.commit()
        except Exception as error:  # noqa: BLE001 - answered as the view's own error would be
            abandon()
            return app.make_response(app.handle_user_exception(error))
        for reason, action in g.pop(_AFTER, ()):
            try:
                with transaction():
                    action()
                extra_commit.send(reason)
            except Exception:  # noqa: BLE001 - the request's own work is committed: say so
                log.warning("%s failed after the request's commit", reason, exc_info=True)
        return response


def _wrote() -> bool:
    """Whether the request's transaction holds anything to commit: a read-only request
    commits nothing (its reads end when the session is removed)."""
    if not db.session.registry.has():
        return False  # the request never opened a session (discovery, JWKS): nothing to do
    session = db.session()
    return bool(session.info.get(_WROTE) or session.new or session.dirty or session.deleted)


@event.listens_for(Session, "do_orm_execute")
def _mark_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_flush")
def _mark_flush(session: Session, _context) -> None:  # type: ignore[no-untyped-def]
    session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _clear_after_commit(session: Session) -> None:
    session.info.pop(_WROTE, None)


@event.listens_for(Session, "after_soft_rollback")
def _clear_after_rollback(session: Session, _transaction) -> None:  # type: ignore[no-untyped-def]
    session.info.pop(_WROTE, None)
