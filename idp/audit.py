"""The audit trail: every security-relevant outcome is one event with a tag from ``EventTag``.

Events never carry secrets: no password, OTP, activation code or token goes in ``detail``.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, Protocol

from flask import g, has_request_context, request

from idp.extensions import db
from idp.models import AuditEvent, Citizen

log = logging.getLogger("idp.audit")


class EventTag(StrEnum):
    REGISTRATION = "registration"
    REGISTRATION_REFUSED = "registration_refused"
    CERTIFICATE_REFUSED = "certificate_refused"
    ACTIVATION_CODE_REGENERATION_REFUSED = "activation_code_regeneration_refused"
    ACTIVATION_CODE_FAILED = "activation_code_failed"
    ACTIVATION_CODE_BLOCKED = "activation_code_blocked"
    ACTIVATION_STARTED = "activation_started"
    ACTIVATED = "activated"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    PASSWORD_BLOCKED = "password_blocked"
    PASSWORD_EXPIRED = "password_expired"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    ACTIVATION_CODE_REGENERATED = "activation_code_regenerated"
    ACTIVATION_CODE_UNBLOCKED = "activation_code_unblocked"
    PHONE_CHANGED = "phone_changed"
    SESSION_ENDED = "session_ended"
    UNSUBSCRIBED = "unsubscribed"
    OTP_SENT = "otp_sent"
    OTP_SEND_FAILED = "otp_send_failed"
    OTP_FAILED = "otp_failed"
    OTP_EXHAUSTED = "otp_exhausted"
    OTP_VERIFIED = "otp_verified"
    SMS_NOTICE_SENT = "sms_notice_sent"
    SMS_NOTICE_SEND_FAILED = "sms_notice_send_failed"
    OTP_LOCKED = "otp_locked"
    CONSENT_GRANTED = "consent_granted"
    CONSENT_DENIED = "consent_denied"
    CODE_ISSUED = "code_issued"
    CODE_REUSED = "code_reused"
    TOKEN_ISSUED = "token_issued"
    REFRESH_REPLAYED = "refresh_replayed"
    TOKEN_CLIENT_MISMATCH = "token_client_mismatch"
    CLIENT_AUTH_FAILED = "client_auth_failed"
    CLIENT_AUTH_FLOODED = "client_auth_flooded"
    TOKEN_REVOKED = "token_revoked"
    LOGOUT = "logout"
    BACKCHANNEL_LOGOUT = "backchannel_logout"
    DEVICE_ENROLLED = "device_enrolled"
    DEVICE_REVOKED = "device_revoked"
    DEVICES_REVOKED = "devices_revoked"
    DEVICE_PROOF_REFUSED = "device_proof_refused"
    MOBILE_PUSH_REQUESTED = "mobile_push_requested"
    MOBILE_APPROVED = "mobile_approved"
    MOBILE_DENIED = "mobile_denied"
    MOBILE_WRONG_CODE = "mobile_wrong_code"
    MOBILE_APPROVAL_REFUSED = "mobile_approval_refused"
    CLIENT_REGISTERED = "client_registered"
    CLIENT_DISABLED = "client_disabled"
    CLIENT_ENABLED = "client_enabled"
    CLIENT_SECRET_ROTATED = "client_secret_rotated"
    KEYS_ROTATED = "keys_rotated"


class Identified(Protocol):
    """Whom an event is about, as far as the trail needs it: a ``Citizen``, or the token
    endpoint's ``Subject`` (an id it has not loaded a row for)."""

    @property
    def id(self) -> int: ...


def record_event(
    tag: EventTag,
    citizen: Citizen | Identified | None = None,
    *,
    client_id: str | None = None,
    commit: bool = True,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(tag=tag.value, citizen_id=citizen.id if citizen else None, client_id=client_id,
                       detail=detail)
    if has_request_context():
        event.ip = request.remote_addr
        event.user_agent = (request.user_agent.string or "")[:256]
        event.request_id = g.get("request_id")
    db.session.add(event)
    if commit:
        db.session.commit()
    log.info("audit %s citizen=%s client=%s", tag.value, event.citizen_id, client_id)
    return event
