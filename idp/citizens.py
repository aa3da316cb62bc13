"""The citizen's credential: registration act, password checks and changes, activation code.

Counters (wrong passwords, wrong activation codes) move with conditional UPDATEs so
that parallel attempts on several processes block exactly at the threshold, and a right
secret is accepted only by a conditional UPDATE that still finds it unblocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import Row, bindparam, case, update
from sqlalchemy.orm.attributes import set_committed_value

from idp import secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.connections import insert_for
from idp.documents import Document
from idp.extensions import db
from idp.models import Citizen, CitizenStatus, OtpCode, UnregisteredDocument
from idp.passwords import PasswordHasher, PersonalData, check_password
from idp.unit_of_work import CommitReason, commit_now

ACTIVATION = "activation_code"
CONTRAST = "contrast_data"
UNREGISTERED = "unregistered_document"


def hasher() -> PasswordHasher:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "idp.hasher" not in app.extensions:
        app.extensions["idp.hasher"] = PasswordHasher(
            memory_kib=app.config["IDP_ARGON2_MEMORY_KIB"],
            time_cost=app.config["IDP_ARGON2_TIME_COST"],
            parallelism=app.config["IDP_ARGON2_PARALLELISM"],
            max_concurrent=app.config["IDP_ARGON2_CONCURRENCY"],
        )
    return app.extensions["idp.hasher"]


def normalise_contrast(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def find(document: Document) -> Citizen | None:
    return db.session.scalar(_BY_DOCUMENT, {"document": document.number})


_BY_DOCUMENT = db.select(Citizen).where(Citizen.document == bindparam("document"))  # built once


@dataclass(frozen=True)
class Registration:
    citizen: Citizen
    activation_code: str


def register(document: Document, *, given_name: str, first_surname: str,
             second_surname: str | None, email: str, phone: str, contrast_data: str,
             birthdate: date | None = None, channel: str = "office") -> Registration:
    """The registration act: a new citizen, or a fresh start for an unsubscribed one."""
    code = secrets.activation_code()
    citizen = find(document)
    if citizen is None:
        citizen = Citizen(document=document.number, document_type=document.type.value)
        db.session.add(citizen)
    elif citizen.status != CitizenStatus.UNSUBSCRIBED:
        raise AlreadyRegistered(document.number)
    citizen.given_name, citizen.first_surname = given_name, first_surname
    citizen.second_surname, citizen.birthdate = second_surname or None, birthdate
    citizen.email, citizen.phone = email, phone
    citizen.contrast_data_hash = secrets.keyed_hash(normalise_contrast(contrast_data), CONTRAST)
    citizen.status = CitizenStatus.REGISTERED
    citizen.password_hash = citizen.previous_password_hash = None
    citizen.password_set_at = citizen.password_expires_at = None
    citizen.password_failures, citizen.password_blocked = 0, False
    _new_activation_code(citizen, code)
    db.session.flush()
    record_event(EventTag.REGISTRATION, citizen, channel=channel)
    return Registration(citizen, code)


class AlreadyRegistered(Exception):
    pass


def _new_activation_code(citizen: Citizen, code: str) -> None:
    citizen.activation_code_hash = secrets.keyed_hash(secrets.normalise_activation_code(code), ACTIVATION)
    citizen.activation_failures = 0
    citizen.activation_code_blocked = False


def personal_data(citizen: Citizen) -> PersonalData:
    return PersonalData(given_name=citizen.given_name, first_surname=citizen.first_surname,
                        second_surname=citizen.second_surname, document=citizen.document,
                        birthdate=citizen.birthdate, phone=citizen.phone)


# -- passwords ---------------------------------------------------------------------------

class PasswordCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    BLOCKED = "blocked"


def verify_password(citizen: Citizen | None, password: str) -> PasswordCheck:
    """Check a login password; an unknown citizen costs one argon2 run all the same.

    ``citizen`` was read before argon2 ran, and other processes may block the password
    meanwhile: a right password is accepted only by an UPDATE that still finds it unblocked
    (and unchanged), never on what was read before. What the request did so far (the
    rate-limit slot that let this attempt run) is committed before argon2 runs, known
    document or not.
    """
    commit_now(CommitReason.BEFORE_ARGON2)
    if citizen is None or citizen.password_hash is None or not citizen.is_active:
        hasher().burn(password)
        return PasswordCheck.WRONG
    checked_hash = citizen.password_hash
    correct = hasher().verify(checked_hash, password)
    if citizen.password_blocked:
        return PasswordCheck.BLOCKED
    if not correct:
        return _count_wrong_password(citizen)
    kept_hash = hasher().hash(password) if hasher().needs_rehash(checked_hash) else checked_hash
    accepted = db.session.execute(_ACCEPT_PASSWORD, {
        "b_citizen": citizen.id, "b_checked": checked_hash, "b_kept": kept_hash}).rowcount
    if accepted == 1:
        set_committed_value(citizen, "password_failures", 0)
        set_committed_value(citizen, "password_hash", kept_hash)
        return PasswordCheck.OK
    db.session.refresh(citizen)
    return PasswordCheck.BLOCKED if citizen.password_blocked else PasswordCheck.WRONG


_CITIZENS = Citizen.__table__.c
# Built once, on the table: the ORM's update took as long again as the statement itself.
_ACCEPT_PASSWORD = (
    update(Citizen.__table__)
    .where(_CITIZENS.id == bindparam("b_citizen"), _CITIZENS.password_hash == bindparam("b_checked"),
           _CITIZENS.password_blocked.is_(False))
    .values(password_failures=0, password_hash=bindparam("b_kept"))
)


def _count_wrong_password(citizen: Citizen) -> PasswordCheck:
    limit = current_app.config["IDP_PASSWORD_MAX_FAILURES"]
    counted = db.session.execute(
        update(Citizen).where(Citizen.id == citizen.id, Citizen.password_blocked.is_(False))
        .values(password_failures=Citizen.password_failures + 1,
                password_blocked=case((Citizen.password_failures + 1 >= limit, True), else_=False))
    ).rowcount
    db.session.refresh(citizen)  # this transaction's count: it holds the row until commit
    if counted and citizen.password_blocked:
        record_event(EventTag.PASSWORD_BLOCKED, citizen)
    return PasswordCheck.BLOCKED if citizen.password_blocked else PasswordCheck.WRONG


def password_problems(citizen: Citizen, new_password: str, confirmation: str) -> list[str]:
    """Every rule the new password breaks, plus a mismatched confirmation."""
    previous = [h for h in (citizen.password_hash, citizen.previous_password_hash) if h]
    problems = check_password(
        new_password, personal_data(citizen),
        is_previous=lambda candidate: any(hasher().verify(h, candidate) for h in previous))
    if new_password != confirmation:
        problems.append("password_mismatch")
    return problems


def set_password(citizen: Citizen, new_password: str) -> None:
    citizen.previous_password_hash = citizen.password_hash
    citizen.password_hash = hasher().hash(new_password)
    citizen.password_set_at = clock.now()
    citizen.password_expires_at = clock.now() + timedelta(
        days=current_app.config["IDP_PASSWORD_LIFETIME_DAYS"])
    citizen.password_failures = 0
    citizen.password_blocked = False
    citizen.status = CitizenStatus.ACTIVE


# -- activation code ----------------------------------------------------------------------

class CodeCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    BLOCKED = "blocked"


def check_activation_code(document: Document, citizen: Citizen | None, code: str, *,
                          email: str | None = None) -> CodeCheck:
    """The activation code typed for ``document`` (with the e-mail, where the flow asks
    for it). A document without a live registration has a counter of its own, moved by
    the same statements as a citizen's: unknown and registered documents reach "blocked"
    alike, with the same answers and the same work."""
    if citizen is None or citizen.status == CitizenStatus.UNSUBSCRIBED:
        return _unregistered_wrong_entry(document)
    details_match = email is None or citizen.email.lower() == email
    return verify_activation_code(citizen, code, details_match=details_match)


def verify_activation_code(citizen: Citizen, code: str, *, details_match: bool = True) -> CodeCheck:
    """More than the allowed wrong entries block the code, even for a correct one after.
    An entry whose other details do not match counts as a wrong one, and so does a right
    code that another attempt blocked (or a regeneration replaced) meanwhile."""
    checked_hash = citizen.activation_code_hash
    right = secrets.matches(secrets.normalise_activation_code(code), checked_hash, ACTIVATION)
    if right and details_match:
        # Accepted only by an UPDATE that still finds the code unblocked and unchanged (as
        # passwords are): a right code racing wrong ones never passes after the block.
        accepted = db.session.execute(
            update(Citizen).where(Citizen.id == citizen.id,
                                  Citizen.activation_code_hash == checked_hash,
                                  Citizen.activation_code_blocked.is_(False))
            .values(activation_failures=Citizen.activation_failures)).rowcount
        if accepted == 1:
            return CodeCheck.OK
    counted = db.session.execute(
        update(Citizen).where(Citizen.id == citizen.id, Citizen.activation_code_blocked.is_(False))
        .values(_one_more_wrong_entry(Citizen))
        .returning(Citizen.activation_failures, Citizen.activation_code_blocked)
    ).one_or_none()
    return _settle_wrong_entry(counted, citizen)


def _unregistered_wrong_entry(document: Document) -> CodeCheck:
    key = secrets.keyed_hash(document.number, UNREGISTERED)  # one HMAC, as checking a code
    insert = insert_for(db.session)
    counted = db.session.execute(
        insert(UnregisteredDocument)
        .values(document_hash=key, activation_failures=1,
                activation_code_blocked=current_app.config["IDP_ACTIVATION_MAX_FAILURES"] <= 1)
        .on_conflict_do_update(index_elements=[UnregisteredDocument.document_hash],
                               set_=_one_more_wrong_entry(UnregisteredDocument),
                               where=UnregisteredDocument.activation_code_blocked.is_(False))
        .returning(UnregisteredDocument.activation_failures,
                   UnregisteredDocument.activation_code_blocked)
    ).one_or_none()
    return _settle_wrong_entry(counted, None)


def _one_more_wrong_entry(model: type[Citizen] | type[UnregisteredDocument]) -> dict[str, Any]:
    limit = current_app.config["IDP_ACTIVATION_MAX_FAILURES"]
    return {"activation_failures": model.activation_failures + 1,
            "activation_code_blocked": case((model.activation_failures + 1 >= limit, True),
                                            else_=False)}


def _settle_wrong_entry(counted: Row[tuple[int, bool]] | None, citizen: Citizen | None) -> CodeCheck:
    """Audit a counted wrong entry (``counted``: the count and block it led to); the refusal
    the caller answers commits it. Nothing is counted for a code already blocked, which
    changes nothing and is not audited again."""
    if counted is None:
        return CodeCheck.BLOCKED
    failures, blocked = counted
    record_event(EventTag.ACTIVATION_CODE_FAILED, citizen, failures=failures)
    if blocked:
        record_event(EventTag.ACTIVATION_CODE_BLOCKED, citizen)
    return CodeCheck.BLOCKED if blocked else CodeCheck.WRONG


def regenerate_activation_code(citizen: Citizen, *, channel: str = "office") -> str:
    """A new code for a citizen who lost theirs: the old one stops working at once and the
    wrong-entry counter starts again. The caller shows the returned code once."""
    code = secrets.activation_code()
    _new_activation_code(citizen, code)
    record_event(EventTag.ACTIVATION_CODE_REGENERATED, citizen, channel=channel)
    return code


def unblock_activation_code(citizen: Citizen, *, channel: str = "office") -> None:
    """The same code works again, with a fresh count of wrong entries (an office act)."""
    was_blocked = citizen.activation_code_blocked
    citizen.activation_code_blocked, citizen.activation_failures = False, 0
    record_event(EventTag.ACTIVATION_CODE_UNBLOCKED, citizen, channel=channel,
                 was_blocked=was_blocked)


def change_phone(citizen: Citizen, phone: str, *, channel: str = "office") -> None:
    """The one mobile number SMS codes go to. Codes already sent to the old number stop
    working: a number is usually changed because the old phone is lost or stolen."""
    citizen.phone = phone
    db.session.execute(update(OtpCode).where(OtpCode.citizen_id == citizen.id,
                                             OtpCode.consumed_at.is_(None))
                       .values(consumed_at=clock.now()))
    record_event(EventTag.PHONE_CHANGED, citizen, channel=channel)


def matches_contrast(citizen: Citizen, contrast_data: str) -> bool:
    return secrets.matches(normalise_contrast(contrast_data), citizen.contrast_data_hash, CONTRAST)
