"""The SMS code step shared by every flow that needs one."""

from __future__ import annotations

from flask import current_app

from idp import otp, ratelimit
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
