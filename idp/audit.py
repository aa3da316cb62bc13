"""The audit trail: every security-relevant outcome is one event with a tag from ``EventTag``.

Events never carry secrets: no password, OTP, activation code or token goes in ``detail``.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any, Protocol

from flask import g, has_request_context, request
from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.orm import Session

from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent, Citizen
from idp.unit_of_work import note_write

log = logging.getLogger("idp.audit")
_PENDING = "idp.audit.pending"


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
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_RENAMED = "passkey_renamed"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEYS_REVOKED = "passkeys_revoked"
    PASSKEY_ENROLLMENT_REFUSED = "passkey_enrollment_refused"
    PASSKEY_LOGIN_REFUSED = "passkey_login_refused"
    PASSKEY_COUNTER_WENT_BACK = "passkey_counter_went_back"
    MOBILE_PUSH_REQUESTED = "mobile_push_requested"
    MOBILE_APPROVED = "mobile_approved"
    MOBILE_DENIED = "mobile_denied"
    MOBILE_WRONG_CODE = "mobile_wrong_code"
    MOBILE_APPROVAL_REFUSED = "mobile_approval_refused"
    CLIENT_REGISTERED = "client_registered"
    CLIENT_UPDATED = "client_updated"
    CLIENT_DISABLED = "client_disabled"
    CLIENT_ENABLED = "client_enabled"
    CLIENT_SECRET_ROTATED = "client_secret_rotated"
    KEYS_ROTATED = "keys_rotated"
    FIRMA_CERTIFICATE_ISSUED = "firma_certificate_issued"
    FIRMA_CERTIFICATES_REVOKED = "firma_certificates_revoked"
    FIRMA_KEYS_RESEALED = "firma_keys_resealed"
    SIGNATURE_REQUESTED = "signature_requested"
    SIGNATURE_REQUEST_REFUSED = "signature_request_refused"
    SIGNATURE_SIGNED = "signature_signed"
    SIGNATURE_DECLINED = "signature_declined"
    SIGNATURE_SIGNER_MISMATCH = "signature_signer_mismatch"
    SIGNATURE_DOWNLOADED = "signature_downloaded"
    SIGNATURE_DOWNLOAD_REFUSED = "signature_download_refused"


class Identified(Protocol):
    """Whom an event is about, as far as the trail needs it: a ``Citizen``, or the token
    endpoint's ``Subject`` (an id it has not loaded a row for)."""

    @property
    def id(self) -> int: ...


def record_event(tag: EventTag, citizen: Citizen | Identified | None = None, *,
                 client_id: str | None = None, **detail: Any) -> None:
    """Note a security-relevant outcome. It is written by the commit of the unit of work it
    belongs to (never on its own: it stands or falls with what it tells of), all of that
    unit's events in one statement."""
    environ = request.environ if has_request_context() else None
    event = event_row(tag, citizen.id if citizen else None, client_id, environ,
                      g.get("request_id") if environ is not None else None, detail)
    db.session.info.setdefault(_PENDING, []).append(event)
    note_write()
    log_event(event)


def event_row(tag: EventTag, citizen_id: int | None, client_id: str | None,
              environ: dict[str, Any] | None, request_id: str | None,
              detail: dict[str, Any]) -> dict[str, Any]:
    """The ``audit_events`` row of an outcome of the request of this WSGI ``environ`` (None:
    outside requests): ``record_event``'s, and that of a layer that answers in front of
    Flask (``idp.oidc.endpoints.front``) and writes it itself. ``detail`` is a dict, not
    keywords: an event may well tell of a ``request_id`` of its own (Cl@ve Firma's)."""
    event = {"tag": tag.value, "citizen_id": citizen_id, "client_id": client_id, "detail": detail,
             "created_at": clock.now(), "ip": None, "user_agent": None, "request_id": request_id}
    if environ is not None:
        event.update(ip=environ.get("REMOTE_ADDR"),
                     user_agent=(environ.get("HTTP_USER_AGENT") or "")[:256])
    return event


def log_event(event: dict[str, Any]) -> None:
    """The log line of an event noted (``event_row``)."""
    log.info("audit %s citizen=%s client=%s", event["tag"], event["citizen_id"], event["client_id"])


@sa_event.listens_for(Session, "before_commit")
def _write_events(session: Session) -> None:
    events = session.info.pop(_PENDING, None)
    if events:  # a Core insert: the ORM's would split the rows by the columns left empty
        session.execute(insert(AuditEvent.__table__), events)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_events(session: Session, _transaction) -> None:  # type: ignore[no-untyped-def]
    session.info.pop(_PENDING, None)
