"""A flow's state changed by parallel requests on other processes: no change is lost, and
a flow that one of them ended stays ended."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update

from idp import flow_state
from idp.clock import clock
from idp.extensions import db
from idp.models import FlowState
from idp.oidc.models import AuthorizationRequest
from tests.factories import make_citizen, make_client


def _flow_at_the_sms_step() -> FlowState:
    token = flow_state.start_for_token("unsubscribe", "otp", make_citizen().citizen)
    db.session.commit()  # as the request that started it
    state = flow_state.by_token("unsubscribe", "otp", token)
    assert state is not None
    return state


def _meanwhile(statement) -> None:  # type: ignore[no-untyped-def]
    """What another process commits while this request holds the flow it read."""
    with db.engine.begin() as other:
        other.execute(statement)


def test_a_wrong_code_counted_meanwhile_elsewhere_is_not_lost(app):
    state = _flow_at_the_sms_step()
    _meanwhile(update(FlowState).where(FlowState.id == state.id).values(data={"wrong_codes": 1}))
    assert flow_state.add_one(state, "wrong_codes") == 2


def test_a_resend_keeps_the_wrong_codes_counted_meanwhile_elsewhere(app):
    state = _flow_at_the_sms_step()
    _meanwhile(update(FlowState).where(FlowState.id == state.id).values(data={"wrong_codes": 3}))
    flow_state.advance(state, "otp", otp_id=7)
    db.session.commit()  # as the request that resent the code
    db.session.refresh(state)
    assert state.data == {"wrong_codes": 3, "otp_id": 7}


def test_a_flow_ended_meanwhile_elsewhere_is_neither_counted_nor_brought_back(app):
    state = _flow_at_the_sms_step()
    _meanwhile(delete(FlowState).where(FlowState.id == state.id))
    assert flow_state.add_one(state, "wrong_codes") is None
    flow_state.advance(state, "confirm")
    assert db.session.get(FlowState, state.id, populate_existing=True) is None


def test_a_flow_moved_on_meanwhile_elsewhere_is_not_moved_back(app):
    state = _flow_at_the_sms_step()
    _meanwhile(update(FlowState).where(FlowState.id == state.id).values(step="confirm"))
    flow_state.advance(state, "otp", otp_id=8)  # a resend that lost the race to the right code
    assert flow_state.add_one(state, "wrong_codes") is None
    moved_on = db.session.get(FlowState, state.id, populate_existing=True)
    assert moved_on is not None and moved_on.step == "confirm" and "otp_id" not in moved_on.data


def test_a_flow_state_is_deleted_with_the_pending_request_it_serves(app):
    rp = make_client()
    pending = AuthorizationRequest(id="a-pending-request", client_id=rp.client_id, params={},
                                   expires_at=clock.now() + timedelta(minutes=10))
    db.session.add(pending)
    token = flow_state.start_for_token("login", "otp", make_citizen().citizen, pending_request_id=pending.id)
    db.session.commit()
    db.session.execute(delete(AuthorizationRequest).where(AuthorizationRequest.id == pending.id))
    db.session.commit()
    assert flow_state.by_token("login", "otp", token) is None
    assert db.session.scalar(select(func.count()).select_from(FlowState)) == 0
