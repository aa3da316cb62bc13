"""Login challenges: created for a browser, decided by an app, consumed once by that browser.

Number matching: the browser shows a short code that the app is never told; the citizen
types it into the app, which sends it inside its signed decision. An approval with a
missing or wrong code denies the challenge, so a blind tap approves nothing.

Decisions and consumption are conditional UPDATEs, so a challenge is approved at most
once and continues at most one login, whichever process serves each step.
"""

from __future__ import annotations

import hmac
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
# Digits of the code typed in the app: a blind guess approves 1 time in 10**CODE_DIGITS,
# and a wrong guess ends the challenge, so it cannot be retried.
CODE_DIGITS = 3


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
        verification_code=f"{random.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}",
        origin_ip=displayable(request.remote_addr, 64),
        origin_user_agent=displayable(request.user_agent.string, 256),
        expires_at=clock.now() + LIFETIME)
    db.session.add(challenge)
    session[SESSION_KEY] = [*session.get(SESSION_KEY, [])[-(MAX_BOUND - 1):], challenge.id]
    return challenge


def create_qr(pending: Pending | None) -> MobileChallenge:
    return _new(ChallengeKind.QR, pending, None)


def create_push(citizen: Citizen | None, pending: Pending | None) -> MobileChallenge:
    """A request pushed to the citizen's apps, with a code to type in them.

    For an unknown document, or one without an enrolled app, the same page is shown and
    the challenge simply expires: the page never tells whether a document is registered.
    """
    has_device = citizen is not None and not citizen.password_blocked and db.session.scalar(
        db.select(Device.id).filter_by(citizen_id=citizen.id, revoked_at=None).limit(1)) is not None
    return _new(ChallengeKind.PUSH, pending, citizen if has_device else None)


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
    WRONG_CODE = "wrong_code"
    UNAVAILABLE = "unavailable"


def typed_code_matches(challenge: MobileChallenge, typed: object) -> bool:
    """Whether the citizen typed the code their browser shows (anything else, of any type,
    does not match); compared in constant time."""
    return isinstance(typed, str) and hmac.compare_digest(typed.encode(),
                                                          challenge.verification_code.encode())


def decide(challenge: MobileChallenge | None, device: Device, approve: bool,
           typed_code: object = None) -> Decision:
    """Record the app's decision, once; approving needs the code typed, denying does not."""
    if challenge is None or not visible_to(challenge, device):
        return Decision.UNAVAILABLE
    outcome = Decision.APPROVED if approve else Decision.DENIED
    if approve and not typed_code_matches(challenge, typed_code):
        outcome = Decision.WRONG_CODE
    status = ChallengeStatus.APPROVED if outcome == Decision.APPROVED else ChallengeStatus.DENIED
    changed = db.session.execute(
        update(MobileChallenge)
        .where(MobileChallenge.id == challenge.id, MobileChallenge.status == ChallengeStatus.PENDING,
               MobileChallenge.expires_at > clock.now())
        .values(status=status, decided_at=clock.now(), device_id=device.id, citizen_id=device.citizen_id)
    ).rowcount
    if changed != 1:
        return Decision.UNAVAILABLE
    tag = {Decision.APPROVED: EventTag.MOBILE_APPROVED, Decision.DENIED: EventTag.MOBILE_DENIED,
           Decision.WRONG_CODE: EventTag.MOBILE_WRONG_CODE}[outcome]
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
    if taken != 1:
        return None
    db.session.refresh(challenge)
    citizen = challenge.citizen
    usable = citizen is not None and citizen.is_active and not citizen.password_blocked
    return citizen if usable else None
