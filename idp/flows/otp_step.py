"""The SMS code step shared by every flow that needs one.

The page says only what happened: that a code was sent when this flow has one, and, when
no code can be sent or accepted now, why and (when known) how long until one can.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from types import SimpleNamespace
from typing import Any

from flask import current_app, make_response, redirect, render_template, request, url_for

from idp import durations, flow_state, otp, ratelimit
from idp.flows import forms
from idp.kept_pages import CSRF_TOKEN, KeptPage
from idp.models import Citizen, FlowState
from idp.sms import SmsDeliveryError


def send(citizen: Citizen, purpose: str, *, again_after: int | None = None) -> tuple[int | None, str | None]:
    """Send a code (``again_after``: another one, after the flow's code of that id): the new
    code's id, or None and the message key saying why none was sent."""
    try:
        code_id = otp.send_otp(citizen, purpose, resend_of=again_after)
    except otp.SendRefused as refused:
        return None, refused.reason
    except SmsDeliveryError:
        current_app.logger.warning("SMS gateway failed for a %s code", purpose)
        return None, "sms_unavailable"
    return code_id, None


# Shows a flow's SMS-code page for the flow and the problem to say (or None).
ShowPage = Callable[[FlowState, "str | None"], Any]


def begin(kind: str, citizen: Citizen, purpose: str, shown: ShowPage, **data: Any):  # type: ignore[no-untyped-def]
    """Start flow ``kind`` at its SMS-code step with its first code sent, and answer its
    page (``shown``, which acts as if it were at the step's own address: one request fewer
    than a redirect there).

    The form this answers is what a browser without JavaScript posts again on a reload:
    when this browser's flow is already at the step for the same citizen and ``data`` with
    a code that can still be accepted, the page is shown again for that flow, and nothing
    is sent or started."""
    waiting = _waiting(kind, citizen, purpose, data)
    if waiting is not None:
        return shown(waiting, None)
    code_id, problem = send(citizen, purpose)
    state = flow_state.start(kind, "otp", citizen, **data, **({"otp_id": code_id} if code_id else {}))
    return shown(state, problem)


def shown_at(endpoint: str, flow_steps: Sequence[str]) -> ShowPage:
    """The plain SMS-code page of the flow whose step is at ``endpoint``, for ``begin``."""
    return lambda state, problem: page(state, problem, url_for(endpoint), flow_steps)


def _waiting(kind: str, citizen: Citizen, purpose: str, data: dict[str, Any]) -> FlowState | None:
    """This browser's flow ``kind`` at its SMS-code step for ``citizen`` and ``data``, if its
    code can still be accepted."""
    state = flow_state.current(kind, "otp")  # no statement when the browser has no such flow
    if state is None or state.citizen_id != citizen.id:
        return None
    started_with = {"pending_request_id": state.pending_request_id, **state.data}
    if any(started_with.get(name) != value for name, value in data.items()):
        return None
    return state if otp.usable(state.data.get("otp_id"), citizen, purpose) else None


def check(state: FlowState, citizen: Citizen, purpose: str, presented: str) -> str | None:
    """None when the code is right; else the message key to show."""
    limits = ratelimit.guard("otp", ip=ratelimit.client_address())
    if not limits.reserve():
        return "rate_limited"
    result = otp.verify_otp(state.data.get("otp_id"), citizen, purpose, presented)
    if result == otp.OtpResult.OK:
        limits.release()
        return None
    return result.value


def masked_phone(citizen: Citizen) -> str:
    return citizen.phone[-3:]


# A code typed and refused; not a malformed entry, a resend, a lock or a rate limit.
WRONG_CODE = frozenset({"otp_wrong", "otp_exhausted", "otp_expired"})
# Problems a redirect may announce with ?problem=… (``begin`` redirected with them before it
# answered the page itself; such addresses may still be followed); anything else in the
# URL is ignored (a lock is read from the citizen, never from the URL).
ANNOUNCED_AFTER_REDIRECT = frozenset({"sms_unavailable", "otp_send_limit", "rate_limited"})
# Nothing is wrong with what the citizen typed: they must wait (429, with Retry-After).
WAIT = frozenset({"otp_locked", "otp_resend_wait", "otp_send_limit", "rate_limited"})


def respond(state: FlowState, citizen: Citizen, purpose: str) -> tuple[bool, str | None]:
    """Handle a request to an SMS-code page: (True, None) once the right code is in,
    otherwise (False, the message key to show, if any). Resending is handled here too."""
    if otp.locked_until(citizen) is not None:
        return False, "otp_locked"  # whatever was asked: nothing is sent or checked now
    if request.method == "GET":
        announced = request.args.get("problem")
        return False, announced if announced in ANNOUNCED_AFTER_REDIRECT else None
    if request.form.get("action") == "resend":
        code_id, problem = send(citizen, purpose, again_after=state.data.get("otp_id"))
        if code_id is not None:
            flow_state.advance(state, state.step, otp_id=code_id)
        return False, problem or "otp_resent"
    errors = forms.FormErrors()
    code = forms.text("otp", errors)
    problem = errors["otp"][0] if errors else check(state, citizen, purpose, code)
    return problem is None, problem


def view(kind: str, purpose: str, flow_steps: Sequence[str], *, next_step: str,
         next_endpoint: str, restart_after: int | None = None, restart_endpoint: str = ""):  # type: ignore[no-untyped-def]
    """The whole SMS-code page of flow ``kind``: once the right code is in, the flow moves
    to ``next_step``. With ``restart_after``, one wrong code more than that (over every
    code sent in this flow) ends the flow and sends the citizen back to its first page."""
    state = flow_state.current(kind, "otp")
    if state is None or state.citizen is None:
        return flow_state.expired_page()
    verified, problem = respond(state, state.citizen, purpose)
    if verified:
        flow_state.advance(state, next_step)
        return redirect(url_for(next_endpoint))
    if restart_after is not None and problem in WRONG_CODE:
        wrong = flow_state.add_one(state, "wrong_codes")
        if wrong is None:  # ended or moved on by a parallel request
            return flow_state.expired_page()
        if wrong > restart_after:
            flow_state.finish(kind)
            return redirect(url_for(restart_endpoint, restarted=1))
    return page(state, problem, request.path, flow_steps)


# The SMS-code page's text changes only with the language, the flow and what happened:
# kept per such key, each request's own values filled in (idp.kept_pages).
OTP_PAGE = KeptPage("otp_step.html", CSRF_TOKEN, "page_path", "last_digits", "wait", "requester")
_KEPT_CONTEXT = frozenset({"pending", "intro_key", "problem", "last_digits", "action", "flow_steps",
                           "code_sent", "wait", "page_path"})


def page(state: FlowState, problem: str | None, action: str, flow_steps: Sequence[str],
         template: str = "otp_step.html", **context: Any):  # type: ignore[no-untyped-def]
    citizen = state.citizen
    assert citizen is not None
    retry_at = retry_time(state, citizen, problem)
    status = 200 if problem in (None, "otp_resent") else 429 if problem in WAIT else 400
    context.update(problem=problem, last_digits=masked_phone(citizen), action=action,
                   flow_steps=flow_steps, code_sent=bool(state.data.get("otp_id")),
                   wait=wait_text(retry_at) if retry_at else "", page_path=_address(action))
    if template == OTP_PAGE.template and context.keys() <= _KEPT_CONTEXT:
        html = OTP_PAGE.render(*otp_page(context), partial(otp_stand_ins, context.get("pending") is not None))
    else:
        html = render_template(template, **context)
    response = make_response(html, status)
    if status == 429 and retry_at is not None:
        response.headers["Retry-After"] = str(otp.seconds_until(retry_at))
    return response


def _address(action: str) -> str:
    """The page's own address (for the language switch): where it was asked for, or, when
    answered in place of a redirect to its form's address (``begin``), that address."""
    if action in (request.path, request.script_root + request.path):
        return request.full_path
    return action.removeprefix(request.script_root)


def otp_page(context: dict[str, Any]) -> tuple[tuple, dict[str, Any], dict[str, object]]:
    """The key the SMS-code page's text is kept by, its context, and the values of this
    request that the kept text leaves out."""
    pending = context.get("pending")
    key = (context["problem"], context["action"], tuple(map(str, context["flow_steps"])),
           context["code_sent"], bool(context["wait"]), context.get("intro_key"), pending is not None)
    values = {"page_path": context["page_path"], "last_digits": context["last_digits"],
              "wait": context["wait"], "requester": pending.client.name if pending else ""}
    return key, context, values


def otp_stand_ins(with_pending: bool) -> dict[str, Any]:
    marker = OTP_PAGE.marker
    requester = SimpleNamespace(client=SimpleNamespace(name=marker("requester")))
    return {"pending": requester if with_pending else None,
            **{slot: marker(slot) for slot in ("page_path", "last_digits", "wait")}}


def retry_time(state: FlowState, citizen: Citizen, problem: str | None) -> datetime | None:
    """When a code can be asked for (or typed) again, for the problems where it is known."""
    if problem == "otp_locked":
        return citizen.otp_locked_until
    if problem == "otp_resend_wait":
        return otp.resend_at(state.data.get("otp_id"))
    return None


def wait_text(moment: datetime) -> str:
    """"30 seconds", "50 minutes", "1 hour" in the page's language; never less than the wait.
    Under a minute in seconds; else in whole minutes, rounded up, said in hours (or days)
    when whole: as Babel's ``format_timedelta`` said them under a day, without its locale
    data (``idp.durations``), and exactly beyond (Babel said 25 hours "1 day")."""
    seconds = otp.seconds_until(moment)
    return durations.exact(seconds if seconds < 60 else math.ceil(seconds / 60) * 60)
