"""The SMS code step shared by every flow that needs one."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

from idp import otp, ratelimit
from idp.flows import forms
from idp.flows import state as flow_state
from idp.models import Citizen, FlowState
from idp.sms import SmsDeliveryError


def send(state: FlowState, citizen: Citizen, purpose: str) -> str | None:
    """Send a code for this flow; a message key when it could not be sent."""
    try:
        code = otp.send_otp(citizen, purpose)
    except otp.ResendTooSoon:
        return "otp_resend_wait"
    except SmsDeliveryError:
        current_app.logger.warning("SMS gateway failed for a %s code", purpose)
        return "sms_unavailable"
    flow_state.advance(state, state.step, otp_id=code.id)
    return None


def check(state: FlowState, citizen: Citizen, purpose: str, presented: str) -> str | None:
    """None when the code is right; else the message key to show."""
    limits = ratelimit.guard("otp", ip=ratelimit.client_address())
    if limits.exceeded:
        return "rate_limited"
    result = otp.verify_otp(state.data.get("otp_id"), citizen, purpose, presented)
    if result == otp.OtpResult.OK:
        return None
    limits.hit()
    return result.value


def masked_phone(citizen: Citizen) -> str:
    return citizen.phone[-3:]


# Problems a redirect may announce with ?problem=…; anything else in the URL is ignored.
ANNOUNCED_AFTER_REDIRECT = frozenset({"otp_resend_wait", "sms_unavailable", "rate_limited"})


def respond(state: FlowState, citizen: Citizen, purpose: str) -> tuple[bool, str | None]:
    """Handle a request to an SMS-code page: (True, None) once the right code is in,
    otherwise (False, the message key to show, if any). Resending is handled here too."""
    if request.method == "GET":
        announced = request.args.get("problem")
        return False, announced if announced in ANNOUNCED_AFTER_REDIRECT else None
    if request.form.get("action") == "resend":
        return False, send(state, citizen, purpose) or "otp_resent"
    errors = forms.FormErrors()
    code = forms.text("otp", errors)
    problem = errors["otp"][0] if errors else check(state, citizen, purpose, code)
    return problem is None, problem


def page(template: str, citizen: Citizen, problem: str | None, action: str, **context: Any):  # type: ignore[no-untyped-def]
    status = 400 if problem and problem != "otp_resent" else 200
    return render_template(template, problem=problem, last_digits=masked_phone(citizen),
                           action=action, **context), status
