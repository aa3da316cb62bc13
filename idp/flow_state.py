"""Server-side state of multi-step flows, keyed by a random token in the session cookie."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from flask import current_app, render_template, session
from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.orm import joinedload

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, FlowState

_PURPOSE = "flow_state"
# Rows read in the statement that reads a flow: (mapped class, join condition). See
# ``load_along``.
_ALONG: list[tuple[Any, Any]] = []


def load_along(entity: Any, *, on: Any) -> None:
    """Have every flow state read with the ``entity`` row found ``on`` a condition over the
    flow and the rows registered before it (the protocol registers the pending request the
    flow serves): one statement instead of several, the rows then wait in the session
    (``db.session.get`` finds them unasked)."""
    if entity not in (along for along, _ in _ALONG):
        _ALONG.append((entity, on))
        _reading.cache_clear()


@cache
def _reading() -> Select:
    """A flow state with its citizen, whom every step reads, and the rows it names: one
    statement, built once (building it cost as much as running it)."""
    statement = (select(FlowState, *(entity for entity, _ in _ALONG))
                 .options(joinedload(FlowState.citizen))
                 .where(FlowState.id == bindparam("state_id")))
    for entity, condition in _ALONG:
        statement = statement.outerjoin(entity, condition)
    return statement


def _session_key(kind: str) -> str:
    return f"flow:{kind}"


def start(kind: str, step: str, citizen: Citizen | None, *, pending_request_id: str | None = None,
          **data: Any) -> FlowState:
    """Start this browser's flow ``kind`` at ``step``; ``pending_request_id`` names the pending
    authorization request it serves, which takes the flow along when it ends. Returns the
    flow as written, to show its first page from (outside the ORM session: the row is
    written by a Core statement, and changing the object would write nothing)."""
    finish(kind)
    token = secrets.random_token()
    row = _row(token, kind, step, citizen, pending_request_id, data)
    # A Core statement: the ORM's unit of work took four times as long to write the row.
    db.session.execute(_INSERT, row)
    session[_session_key(kind)] = token
    return FlowState(**row, citizen=citizen)


def _row(token: str, kind: str, step: str, citizen: Citizen | None, pending_request_id: str | None,
         data: dict[str, Any]) -> dict[str, Any]:
    return {"id": secrets.keyed_hash(token, _PURPOSE), "kind": kind, "step": step,
            "citizen_id": citizen.id if citizen else None, "pending_request_id": pending_request_id,
            "data": data, "expires_at": clock.now() + timedelta(
                seconds=current_app.config["IDP_INTERACTION_TTL"])}


def current(kind: str, step: str) -> FlowState | None:
    """The flow of this browser, if it exists, is unexpired and is at ``step``."""
    token = session.get(_session_key(kind))
    if not isinstance(token, str):
        return None
    row = db.session.execute(_reading(), {"state_id": secrets.keyed_hash(token, _PURPOSE)}).first()
    state = row[0] if row is not None else None
    if state is not None:
        # Held by the state: the session's identity map keeps its rows only while they are used.
        state.loaded_along = tuple(row[1:])  # type: ignore[attr-defined]
    if state is None or state.kind != kind or state.step != step or state.expires_at <= clock.now():
        return None
    return state


def expired_page():  # type: ignore[no-untyped-def]
    """What a step answers when this browser has no live flow at that step."""
    return render_template("error.html", message_key="session_expired", status=400), 400


def advance(state: FlowState, step: str, **data: Any) -> None:
    """Move the flow to ``step``, adding ``data``. A flow that a parallel request has moved
    on or ended meanwhile is left as that request left it: its next page tells."""
    if _take(state, step, reread=bool(data)):
        state.data = {**state.data, **data}


def add_one(state: FlowState, counter: str) -> int | None:
    """Count one more in the flow's data (wrong codes) and return the new count; None when
    a parallel request has moved the flow on or ended it."""
    if not _take(state, state.step):
        return None
    count = state.data.get(counter, 0) + 1
    state.data = {**state.data, counter: count}
    return count


def _take(state: FlowState, step: str, *, reread: bool = True) -> bool:
    """Lock the flow's row by moving it from the step this request found to ``step``, then
    read its data again: parallel requests on other processes (a wrong code, a resend)
    change the same JSON, and writing back what was read before the lock would undo their
    changes. False when the flow is no longer at that step."""
    moved = db.session.execute(update(FlowState).where(FlowState.id == state.id,
                                                       FlowState.step == state.step)
                               .values(step=step)).rowcount
    if moved == 1 and reread:
        db.session.refresh(state, ["data"])
    return moved == 1


def finish(kind: str) -> None:
    token = session.pop(_session_key(kind), None)
    if isinstance(token, str):
        db.session.execute(_DELETE, {"state_id": secrets.keyed_hash(token, _PURPOSE)})


def finished_with_request(state: FlowState, request_answered: bool) -> None:
    """End ``state``, whose last step has just run (the browser's cookie may have been
    cleared meanwhile, by a fresh login): when ``request_answered``, the pending request it
    serves is deleted in this unit of work and the database deletes the flow with it (ON
    DELETE CASCADE); otherwise (the request goes on to consent) it is deleted now."""
    session.pop(_session_key(state.kind), None)
    if not (request_answered and state.pending_request_id):
        db.session.execute(_DELETE, {"state_id": state.id})


_DELETE = db.delete(FlowState).where(FlowState.id == bindparam("state_id"))  # built once
_INSERT = insert(FlowState.__table__)


def start_for_token(kind: str, step: str, citizen: Citizen | None, *, pending_request_id: str | None = None,
                    **data: Any) -> str:
    """Like ``start`` for a client without cookies (the mobile app): returns the token."""
    token = secrets.random_token()
    db.session.add(FlowState(**_row(token, kind, step, citizen, pending_request_id, data)))
    return token


def by_token(kind: str, step: str, token: object) -> FlowState | None:
    if not isinstance(token, str) or len(token) > 128:
        return None
    state = db.session.get(FlowState, secrets.keyed_hash(token, _PURPOSE))
    if state is None or state.kind != kind or state.step != step or state.expires_at <= clock.now():
        return None
    return state
