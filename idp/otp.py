"""SMS one-time codes: 6 digits, single use, short-lived, a few wrong tries per code, and a
cap on a citizen's wrong codes over every code, flow and purpose.

Counting and consuming are conditional UPDATEs, so parallel guesses on several app
processes can never exceed a limit or use a code twice. The wrong codes of a citizen are
counted from the first one of a window (``IDP_OTP_LOCK_SECONDS``); the one that reaches
``IDP_OTP_MAX_WRONG_CODES`` locks their codes for that long: none is accepted, none is
sent, and the lock is audited once. Restarting a flow or asking for another code changes
nothing of that count.

Sending: the first code of a flow goes out at once; asking for another is throttled per
flow (``IDP_OTP_RESEND_INTERVAL``); the SMS sent per citizen and per address are capped
by the named limits ``sms.citizen`` and ``sms.ip`` (SMS pumping costs money).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, case, delete, exists, insert, or_, select, update

from idp import durations, metrics, ratelimit, secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, OtpCode
from idp.sms import SmsDeliveryError, SmsGateway
from idp.unit_of_work import CommitReason, commit_now

_PURPOSE = "otp"


class OtpResult(StrEnum):
    OK = "ok"
    WRONG = "otp_wrong"
    EXPIRED = "otp_expired"
    EXHAUSTED = "otp_exhausted"
    FORMAT = "otp_format"
    LOCKED = "otp_locked"


class SendRefused(Exception):
    """No code was sent. ``reason`` is the message key; ``retry_at``, when known, is when
    another can be asked for."""

    def __init__(self, reason: str, retry_at: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_at = retry_at


def gateway() -> SmsGateway:
    return current_app.extensions["idp.sms"]


def locked_until(citizen: Citizen) -> datetime | None:
    """When the citizen's SMS codes unlock, if they are locked now."""
    until = citizen.otp_locked_until
    return until if until is not None and until > clock.now() else None


def seconds_until(moment: datetime) -> int:
    """Whole seconds to wait until ``moment``, at least one (for ``Retry-After``)."""
    return max(1, math.ceil((moment - clock.now()).total_seconds()))


def resend_at(code_id: int | None) -> datetime | None:
    """When the flow whose last code is ``code_id`` may ask for another one."""
    previous = db.session.get(OtpCode, code_id) if code_id else None
    if previous is None:
        return None
    return previous.created_at + timedelta(seconds=current_app.config["IDP_OTP_RESEND_INTERVAL"])


def usable(code_id: object, citizen: Citizen, purpose: str) -> bool:
    """Whether the code ``code_id`` could still be accepted: the citizen's, for ``purpose``,
    unused, unexpired, with tries left, and their codes not locked."""
    if not isinstance(code_id, int) or locked_until(citizen) is not None:
        return False
    code = db.session.get(OtpCode, code_id)
    return (code is not None and code.citizen_id == citizen.id and code.purpose == purpose
            and code.consumed_at is None and code.expires_at > clock.now()
            and code.failed_attempts < current_app.config["IDP_OTP_MAX_TRIES"])


def send_otp(citizen: Citizen, purpose: str, *, resend_of: int | None = None) -> int:
    """Create a code and send it; return its id. ``resend_of`` is the flow's last code when
    the citizen asks for another. The code (with the slot of the ``sms`` limits it takes,
    and what the request did before) is committed before the message leaves. Raises
    ``SendRefused``, having kept nothing, or ``SmsDeliveryError``, having deleted the code
    again."""
    until = locked_until(citizen)
    if until is not None:
        raise SendRefused(OtpResult.LOCKED.value, until)
    ready_at = resend_at(resend_of)
    if ready_at is not None and ready_at > clock.now():
        raise SendRefused("otp_resend_wait", ready_at)
    limits = ratelimit.guard("sms", citizen=str(citizen.id), ip=ratelimit.client_address())
    if not limits.reserve():
        raise SendRefused("otp_send_limit")
    code = secrets.random_digits(6)
    now = clock.now()
    # A Core statement: the ORM's unit of work took four times as long to write the row.
    otp_id = db.session.execute(_INSERT, {
        "citizen_id": citizen.id, "purpose": purpose, "code_hash": secrets.keyed_hash(code, _PURPOSE),
        "failed_attempts": 0, "created_at": now,
        "expires_at": now + timedelta(seconds=current_app.config["IDP_OTP_TTL"])}).scalar_one()
    commit_now(CommitReason.BEFORE_SMS)
    text = gettext("Cl@ve: your one-time code is %(code)s. It is valid for %(lifetime)s. "
                   "Never share it with anyone.", code=code, lifetime=durations.otp_lifetime())
    try:
        gateway().send(citizen.phone, text)
    except SmsDeliveryError:
        db.session.execute(delete(OtpCode.__table__).where(_CODES.id == otp_id))  # it never went out
        limits.release()
        record_event(EventTag.OTP_SEND_FAILED, citizen, purpose=purpose)
        metrics.sms("code", sent=False)
        raise
    record_event(EventTag.OTP_SENT, citizen, purpose=purpose)
    metrics.sms("code", sent=True)
    return otp_id


def verify_otp(otp_id: int | None, citizen: Citizen, purpose: str, presented: str) -> OtpResult:
    if locked_until(citizen) is not None:
        return OtpResult.LOCKED  # not even compared: the answer says nothing of the code
    presented = (presented or "").strip()
    if not (len(presented) == 6 and presented.isascii() and presented.isdigit()):
        return OtpResult.FORMAT
    if not isinstance(otp_id, int):
        return OtpResult.EXPIRED
    now = clock.now()
    if _consume(otp_id, citizen, purpose, presented, now):
        record_event(EventTag.OTP_VERIFIED, citizen, purpose=purpose)
        return OtpResult.OK
    otp = db.session.get(OtpCode, otp_id)
    if otp is None or otp.citizen_id != citizen.id or otp.purpose != purpose:
        return OtpResult.EXPIRED
    max_tries = current_app.config["IDP_OTP_MAX_TRIES"]
    if otp.consumed_at is not None or otp.expires_at <= now:
        return OtpResult.EXPIRED
    if secrets.matches(presented, otp.code_hash, _PURPOSE):
        # Right, but no longer usable: out of tries, or locked by parallel wrong codes.
        if otp.failed_attempts >= max_tries:
            return OtpResult.EXHAUSTED
        return OtpResult.LOCKED if _locked_now(citizen, now) else OtpResult.EXPIRED
    counted = db.session.execute(
        update(OtpCode)
        .where(OtpCode.id == otp.id, OtpCode.failed_attempts < max_tries)
        .values(failed_attempts=OtpCode.failed_attempts + 1)
    ).rowcount
    db.session.refresh(otp)  # this transaction's count, which holds the row until commit
    exhausted = counted == 0 or otp.failed_attempts >= max_tries
    locked, locked_by_this = _count_wrong_code(citizen, now) if counted == 1 else (False, False)
    record_event(EventTag.OTP_EXHAUSTED if exhausted else EventTag.OTP_FAILED, citizen,
                 purpose=purpose)
    if locked_by_this:
        record_event(EventTag.OTP_LOCKED, citizen, wrong_codes=citizen.otp_failures,
                     until=citizen.otp_locked_until.isoformat() + "Z")  # type: ignore[union-attr]
    if locked:
        return OtpResult.LOCKED
    return OtpResult.EXHAUSTED if exhausted else OtpResult.WRONG


def _consume(otp_id: int, citizen: Citizen, purpose: str, presented: str, now: datetime) -> bool:
    """Use a right code once, by one UPDATE that finds it unused, unexpired, with tries
    left and the citizen's codes unlocked (parallel wrong codes may have locked them). The
    code is compared as its keyed hash: how long the comparison takes tells nothing of
    which code would match."""
    return db.session.execute(_CONSUME, {
        "b_otp": otp_id, "b_citizen": citizen.id, "b_purpose": purpose, "b_now": now,
        "b_code_hash": secrets.keyed_hash(presented, _PURPOSE),
        "b_max_tries": current_app.config["IDP_OTP_MAX_TRIES"]}).rowcount == 1


# Built once: building it was a fifth of the SMS code step's time.
_CODES, _CITIZENS = OtpCode.__table__.c, Citizen.__table__.c
_INSERT = insert(OtpCode.__table__).returning(_CODES.id)
_CONSUME = (
    update(OtpCode.__table__)
    .where(_CODES.id == bindparam("b_otp"), _CODES.citizen_id == bindparam("b_citizen"),
           _CODES.purpose == bindparam("b_purpose"), _CODES.code_hash == bindparam("b_code_hash"),
           _CODES.consumed_at.is_(None), _CODES.failed_attempts < bindparam("b_max_tries"),
           _CODES.expires_at > bindparam("b_now"),
           ~exists().where(_CITIZENS.id == bindparam("b_citizen"),
                           _CITIZENS.otp_locked_until > bindparam("b_now")))
    .values(consumed_at=bindparam("b_now"))
)


def _locked(citizen: Citizen, now: datetime):  # type: ignore[no-untyped-def]
    return exists().where(Citizen.id == citizen.id, Citizen.otp_locked_until > now)


def _locked_now(citizen: Citizen, now: datetime) -> bool:
    return bool(db.session.scalar(select(_locked(citizen, now))))


def _count_wrong_code(citizen: Citizen, now: datetime) -> tuple[bool, bool]:
    """Count a wrong code against the citizen: whether their codes are locked now, and
    whether by this code. Only the one UPDATE that reaches the limit sets the lock."""
    config = current_app.config
    window = timedelta(seconds=config["IDP_OTP_LOCK_SECONDS"])
    in_window = Citizen.otp_failures_since > now - window
    failures = case((in_window, Citizen.otp_failures + 1), else_=1)
    counted = db.session.execute(
        update(Citizen)
        .where(Citizen.id == citizen.id,
               or_(Citizen.otp_locked_until.is_(None), Citizen.otp_locked_until <= now))
        .values(otp_failures=failures,
                otp_failures_since=case((in_window, Citizen.otp_failures_since), else_=now),
                otp_locked_until=case((failures >= config["IDP_OTP_MAX_WRONG_CODES"], now + window),
                                      else_=None))
    ).rowcount
    db.session.refresh(citizen)  # the count of this transaction, which holds the row
    if counted == 0:
        return True, False  # locked meanwhile by a parallel wrong code
    locked = citizen.otp_locked_until is not None
    return locked, locked
