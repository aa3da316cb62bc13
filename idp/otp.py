"""SMS one-time codes: 6 digits, single use, 5 minutes, 3 wrong tries, resend throttled.

Counting and consuming are conditional UPDATEs, so parallel guesses on several app
processes can never exceed the try limit or use a code twice.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from flask import current_app
from flask_babel import gettext
from sqlalchemy import update

from idp import secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, OtpCode
from idp.sms import SmsDeliveryError, SmsGateway

_PURPOSE = "otp"


class OtpResult(StrEnum):
    OK = "ok"
    WRONG = "otp_wrong"
    EXPIRED = "otp_expired"
    EXHAUSTED = "otp_exhausted"
    FORMAT = "otp_format"


class ResendTooSoon(Exception):
    pass


def gateway() -> SmsGateway:
    return current_app.extensions["idp.sms"]


def send_otp(citizen: Citizen, purpose: str) -> OtpCode:
    """Create a code and send it; raises ``SmsDeliveryError`` (nothing kept) or ``ResendTooSoon``."""
    config = current_app.config
    latest = db.session.scalar(
        db.select(OtpCode)
        .filter_by(citizen_id=citizen.id, purpose=purpose)
        .order_by(OtpCode.created_at.desc())
        .limit(1)
    )
    if latest and latest.created_at + timedelta(seconds=config["IDP_OTP_RESEND_INTERVAL"]) > clock.now():
        raise ResendTooSoon
    code = secrets.random_digits(6)
    text = gettext("Cl@ve: your one-time code is %(code)s. It is valid for 5 minutes. "
                   "Never share it with anyone.", code=code)
    try:
        gateway().send(citizen.phone, text)
    except SmsDeliveryError:
        record_event(EventTag.OTP_SEND_FAILED, citizen, purpose=purpose)
        raise
    otp = OtpCode(
        citizen_id=citizen.id,
        purpose=purpose,
        code_hash=secrets.keyed_hash(code, _PURPOSE),
        expires_at=clock.now() + timedelta(seconds=config["IDP_OTP_TTL"]),
    )
    db.session.add(otp)
    db.session.flush()
    record_event(EventTag.OTP_SENT, citizen, purpose=purpose)
    return otp


def verify_otp(otp_id: int | None, citizen: Citizen, purpose: str, presented: str) -> OtpResult:
    presented = (presented or "").strip()
    if not (len(presented) == 6 and presented.isascii() and presented.isdigit()):
        return OtpResult.FORMAT
    otp = db.session.get(OtpCode, otp_id) if otp_id else None
    if otp is None or otp.citizen_id != citizen.id or otp.purpose != purpose:
        return OtpResult.EXPIRED
    max_tries = current_app.config["IDP_OTP_MAX_TRIES"]
    now = clock.now()
    if otp.consumed_at is not None or otp.expires_at <= now:
        return OtpResult.EXPIRED
    if secrets.matches(presented, otp.code_hash, _PURPOSE):
        consumed = db.session.execute(
            update(OtpCode)
            .where(OtpCode.id == otp.id, OtpCode.consumed_at.is_(None),
                   OtpCode.failed_attempts < max_tries, OtpCode.expires_at > now)
            .values(consumed_at=now)
        ).rowcount
        if consumed == 1:
            record_event(EventTag.OTP_VERIFIED, citizen, commit=False, purpose=purpose)
        db.session.commit()  # the claim and its audit event together
        if consumed == 1:
            return OtpResult.OK
        return OtpResult.EXHAUSTED if otp.failed_attempts >= max_tries else OtpResult.EXPIRED
    counted = db.session.execute(
        update(OtpCode)
        .where(OtpCode.id == otp.id, OtpCode.failed_attempts < max_tries)
        .values(failed_attempts=OtpCode.failed_attempts + 1)
    ).rowcount
    db.session.refresh(otp)  # this transaction's count, which holds the row until commit
    exhausted = counted == 0 or otp.failed_attempts >= max_tries
    record_event(EventTag.OTP_EXHAUSTED if exhausted else EventTag.OTP_FAILED, citizen,
                 commit=False, purpose=purpose)
    db.session.commit()
    return OtpResult.EXHAUSTED if exhausted else OtpResult.WRONG
