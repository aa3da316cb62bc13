"""Login challenges: created for a browser, decided by an app, consumed once by that browser.

Decisions and consumption are conditional UPDATEs, so a challenge is approved at most
once and continues at most one login, whichever process serves each step.
"""

from __future__ import annotations

import secrets as random
import unicodedata
from datetime import timedelta
from enum import StrEnum

from flask import request, session
from sqlalchemy import update

from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.mobile.models import ChallengeKind, ChallengeStatus, Device, MobileChallenge
from idp.models import Citizen
from idp.oidc.interaction import Pending

LIFETIME = timedelta(minutes=5)
SESSION_KEY = "mobile_challenges"
MAX_BOUND = 5


def displayable(value: str | None, limit: int) -> str:
    """Text the app shows the citizen, from the requesting browser: without control or
    format characters (terminal escapes, bidi overrides) that could rewrite or reorder
    what is read when deciding whether to approve."""
    return "".join(ch for ch in (value or "") if unicodedata.category(ch)[0] != "C")[:limit]


def _new(kind: ChallengeKind, pending: Pending | None, citizen: Citizen | None) -> MobileChallenge:
    challenge = MobileChallenge(
        # Hex: safe in URLs and as a command-line argument (never starts with "-").
        id=random.token_hex(24), kind=kind, citizen_id=citizen.id if citizen else None,
        auth_request_id=pending.request.id if pending else None,
        client_name=displayable(pending.client.name, 200) if pending else None,
        requested_claims=pending.requested_claims if pending else [],
        verification_code=f"{random.randbelow(1000):03d}",
        origin_ip=displayable(request.remote_addr, 64),
        origin_user_agent=displayable(request.user_agent.string, 256),
        expires_at=clock.now() + LIFETIME)
    db.session.add(challenge)
    db.session.commit()
    session[SESSION_KEY] = [*session.get(SESSION_KEY, [])[-(MAX_BOUND - 1):], challenge.id]
    return challenge


def create_qr(pending: Pending | None) -> MobileChallenge:
    return _new(ChallengeKind.QR, pending, None)


def create_push(citizen: Citizen | None, pending: Pending | None) -> MobileChallenge:
    """A request pushed to the citizen's apps, with a number to pick among decoys.

    For an unknown document, or one without an enrolled app, the same page is shown and
    the challenge simply expires: the page never tells whether a document is registered.
    """
    has_device = citizen is not None and not citizen.password_blocked and db.session.scalar(
        db.select(Device.id).filter_by(citizen_id=citizen.id, revoked_at=None).limit(1)) is not None
    challenge = _new(ChallengeKind.PUSH, pending, citizen if has_device else None)
    numbers = random.SystemRandom().sample(range(10, 100), 3)
    challenge.numbers, challenge.expected_number = sorted(numbers), numbers[0]
    db.session.commit()
    return challenge


def bound(challenge_id: str | None) -> MobileChallenge | None:
    """The challenge, if this browser is the one that was shown it."""
    if not challenge_id or challenge_id not in session.get(SESSION_KEY, []):
        return None
    return db.session.get(MobileChallenge, challenge_id)


def pending_for(device: Device) -> list[MobileChallenge]:
    return list(db.session.scalars(
        db.select(MobileChallenge)
        .filter_by(citizen_id=device.citizen_id, kind=ChallengeKind.PUSH, status=ChallengeStatus.PENDING)
        .where(MobileChallenge.expires_at > clock.now())
        .order_by(MobileChallenge.created_at)))


def visible_to(challenge: MobileChallenge | None, device: Device) -> bool:
    if challenge is None or challenge.status != ChallengeStatus.PENDING or challenge.expired():
        return False
    return challenge.kind == ChallengeKind.QR or challenge.citizen_id == device.citizen_id


class Decision(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    WRONG_NUMBER = "wrong_number"
    UNAVAILABLE = "unavailable"


def decide(challenge: MobileChallenge | None, device: Device, approve: bool,
           number: object = None) -> Decision:
    if challenge is None or not visible_to(challenge, device):
        return Decision.UNAVAILABLE
    outcome = Decision.APPROVED if approve else Decision.DENIED
    if approve and challenge.kind == ChallengeKind.PUSH and number != challenge.expected_number:
        outcome = Decision.WRONG_NUMBER
    status = ChallengeStatus.APPROVED if outcome == Decision.APPROVED else ChallengeStatus.DENIED
    changed = db.session.execute(
        update(MobileChallenge)
        .where(MobileChallenge.id == challenge.id, MobileChallenge.status == ChallengeStatus.PENDING,
               MobileChallenge.expires_at > clock.now())
        .values(status=status, decided_at=clock.now(), device_id=device.id, citizen_id=device.citizen_id)
    ).rowcount
    db.session.commit()
    if changed != 1:
        return Decision.UNAVAILABLE
    tag = {Decision.APPROVED: EventTag.MOBILE_APPROVED, Decision.DENIED: EventTag.MOBILE_DENIED,
           Decision.WRONG_NUMBER: EventTag.MOBILE_WRONG_NUMBER}[outcome]
    record_event(tag, device.citizen, device_id=device.id, kind=challenge.kind)
    return outcome


def consume(challenge: MobileChallenge) -> Citizen | None:
    """Turn an approval into a login, once; None if not (or no longer) approved."""
    if challenge.expired():
        return None
    taken = db.session.execute(
        update(MobileChallenge)
        .where(MobileChallenge.id == challenge.id, MobileChallenge.status == ChallengeStatus.APPROVED)
        .values(status=ChallengeStatus.CONSUMED)
    ).rowcount
    db.session.commit()
    if taken != 1:
        return None
    db.session.refresh(challenge)
    citizen = challenge.citizen
    usable = citizen is not None and citizen.is_active and not citizen.password_blocked
    return citizen if usable else None
