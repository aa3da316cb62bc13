"""Login challenges: created for a browser, decided by an app, consumed once by that browser.

Number matching: the browser shows a short code that the app is never told; the citizen
types it into the app, which sends it inside its signed decision. An approval with a
missing or wrong code denies the challenge, so a blind tap approves nothing.

Decisions and consumption are conditional UPDATEs, so a challenge is approved at most
once and continues at most one login, whichever process serves each step.

A login page only drafts its QR challenge, in the browser's signed session: the row is
written when that browser first asks for the QR image or the challenge's status, which it
does at once to show the page. A page load writes nothing, and neither does a Permanent
Cl@ve login, nor a visitor (or robot) that never looks at the QR code. The draft's code is
no secret from the browser that holds it: that browser's page shows it.
"""

from __future__ import annotations

import hmac
import secrets as random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import request, session
from sqlalchemy import update

from idp import metrics
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.connections import insert_for
from idp.extensions import db
from idp.mobile.models import ChallengeKind, ChallengeStatus, Device, MobileChallenge
from idp.models import Citizen
from idp.oidc import interaction
from idp.oidc.interaction import Pending

LIFETIME = timedelta(minutes=5)
SESSION_KEY = "mobile_challenges"
DRAFTS_KEY = "mobile_qr_drafts"
MAX_BOUND = 5
# A page shown again (a refused password) keeps its QR code while at least this much of its
# life is left; a shorter one would end, and take the page with it, as the citizen types.
KEPT_WHILE = LIFETIME / 2
# Digits of the code typed in the app: a blind guess approves 1 time in 10**CODE_DIGITS,
# and a wrong guess ends the challenge, so it cannot be retried.
CODE_DIGITS = 3


def displayable(value: str | None, limit: int) -> str:
    """Text the app shows the citizen, from the requesting browser: without control or
    format characters (terminal escapes, bidi overrides) that could rewrite or reorder
    what is read when deciding whether to approve."""
    return "".join(ch for ch in (value or "") if unicodedata.category(ch)[0] != "C")[:limit]


def _new_id() -> str:
    return random.token_hex(24)  # hex: safe in URLs and as a command-line argument (no "-")


def _new_code() -> str:
    return f"{random.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def _columns(kind: ChallengeKind, pending: Pending | None, citizen: Citizen | None) -> dict[str, Any]:
    """What a new challenge records of the request, its browser and (push) the citizen."""
    return {"kind": kind, "citizen_id": citizen.id if citizen else None,
            "auth_request_id": pending.request.id if pending else None,
            "client_name": displayable(pending.client.name, 200) if pending else None,
            "requested_claims": pending.requested_claims if pending else [],
            "origin_ip": displayable(request.remote_addr, 64),
            "origin_user_agent": displayable(request.user_agent.string, 256)}


def _bind(challenge_id: str) -> None:
    session[SESSION_KEY] = [*session.get(SESSION_KEY, [])[-(MAX_BOUND - 1):], challenge_id]


def _new(kind: ChallengeKind, pending: Pending | None, citizen: Citizen | None) -> MobileChallenge:
    challenge = MobileChallenge(id=_new_id(), verification_code=_new_code(),
                                expires_at=clock.now() + LIFETIME, **_columns(kind, pending, citizen))
    db.session.add(challenge)
    _bind(challenge.id)
    return challenge


@dataclass(frozen=True)
class QrDraft:
    """A QR challenge as its login page shows it, kept in that browser's session until
    the browser asks for it (``bound``)."""

    id: str
    verification_code: str
    expires_at: datetime
    auth_request_id: str | None

    def expired(self) -> bool:
        return self.expires_at <= clock.now()


def draft_qr(pending: Pending | None, *, shown_again: bool = False) -> QrDraft:
    """The QR challenge of a login page: a new one, or, for the page ``shown_again`` (a
    refused password), the one it showed while enough of its life is left."""
    auth_request_id = pending.request.id if pending else None
    drafts = _drafts()
    shown = next((d for d in reversed(drafts) if d.auth_request_id == auth_request_id), None)
    if shown_again and shown is not None and shown.expires_at - clock.now() >= KEPT_WHILE:
        return shown
    expires = clock.timestamp() + int(LIFETIME.total_seconds())
    draft = QrDraft(_new_id(), _new_code(), _from_timestamp(expires), auth_request_id)
    # Those of other pages of this browser (tabs) are kept while they live.
    kept = [d for d in drafts if not d.expired()][-(MAX_BOUND - 1):]
    session[DRAFTS_KEY] = [[d.id, d.verification_code, _timestamp(d.expires_at), d.auth_request_id]
                          for d in (*kept, draft)]
    _bind(draft.id)
    return draft


def _drafts() -> list[QrDraft]:
    return [QrDraft(challenge_id, code, _from_timestamp(expires), auth_request_id)
            for challenge_id, code, expires, auth_request_id in session.get(DRAFTS_KEY, [])]


def _timestamp(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _from_timestamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _store(draft: QrDraft) -> MobileChallenge | None:
    """The drafted challenge as a row, written once whichever of this browser's requests
    comes first (the image and the status poll arrive together); an expired draft is
    answered as such without being written."""
    if draft.expired():
        return MobileChallenge(id=draft.id, kind=ChallengeKind.QR, status=ChallengeStatus.PENDING,
                               verification_code=draft.verification_code, expires_at=draft.expires_at,
                               auth_request_id=draft.auth_request_id)
    pending = interaction.load(draft.auth_request_id)
    if draft.auth_request_id and pending is None:
        return None  # its login has ended (finished another way) or expired
    values = {"id": draft.id, "verification_code": draft.verification_code,
              "created_at": draft.expires_at - LIFETIME, "expires_at": draft.expires_at,
              **_columns(ChallengeKind.QR, pending, None)}
    insert = insert_for(db.session)
    stored = db.session.scalar(insert(MobileChallenge).values(**values).on_conflict_do_nothing()
                               .returning(MobileChallenge))  # None: another request stored it
    return stored if stored is not None else db.session.get(MobileChallenge, draft.id)


def create_push(citizen: Citizen | None, pending: Pending | None) -> MobileChallenge:
    """A request pushed to the citizen's apps, with a code to type in them.

    For an unknown document, or one without an enrolled app, the same page is shown and
    the challenge simply expires: the page never tells whether a document is registered.
    """
    has_device = citizen is not None and not citizen.password_blocked and db.session.scalar(
        db.select(Device.id).filter_by(citizen_id=citizen.id, revoked_at=None).limit(1)) is not None
    return _new(ChallengeKind.PUSH, pending, citizen if has_device else None)


def create_signature(citizen: Citizen, *, client_name: str, request_id: str, name: str,
                     sha256: str) -> MobileChallenge:
    """A signature pushed to the citizen's apps (Cl@ve Firma), naming the document and its
    SHA-256, with a code to type in the app as for a login. Its approval authorises that one
    signature; it never becomes a login (``idp.flows.mobile`` refuses it)."""
    challenge = MobileChallenge(
        id=_new_id(), verification_code=_new_code(), expires_at=clock.now() + LIFETIME,
        **{**_columns(ChallengeKind.SIGNATURE, None, citizen),
           "client_name": displayable(client_name, 200) or None},
        document={"request_id": request_id, "name": displayable(name, 200), "sha256": sha256})
    db.session.add(challenge)
    _bind(challenge.id)
    return challenge


def has_app(citizen: Citizen) -> bool:
    return db.session.scalar(db.select(Device.id).filter_by(
        citizen_id=citizen.id, revoked_at=None).limit(1)) is not None


def bound(challenge_id: str | None) -> MobileChallenge | None:
    """The challenge, if this browser is the one that was shown it; a drafted one is
    stored now."""
    if not challenge_id or challenge_id not in session.get(SESSION_KEY, []):
        return None
    challenge = db.session.get(MobileChallenge, challenge_id)
    if challenge is None:
        draft = next((d for d in _drafts() if d.id == challenge_id), None)
        return _store(draft) if draft is not None else None
    return challenge


def pending_for(device: Device) -> list[MobileChallenge]:
    return list(db.session.scalars(
        db.select(MobileChallenge)
        .filter_by(citizen_id=device.citizen_id, status=ChallengeStatus.PENDING)
        .where(MobileChallenge.kind.in_([ChallengeKind.PUSH, ChallengeKind.SIGNATURE]))
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
    if outcome != Decision.APPROVED and challenge.kind != ChallengeKind.SIGNATURE:
        # An approval counts as a login when the browser uses it
        metrics.login(metrics.mobile_method(challenge.kind), metrics.LoginOutcome.FAILED)
    return outcome


def consume(challenge: MobileChallenge) -> Citizen | None:
    """Turn an approval into a login (or a signature's authorisation), once; None if not
    (or no longer) approved."""
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
