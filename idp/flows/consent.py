"""Consent: the citizen sees which data the requesting body receives, and decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import format_date

from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.flows.account import masked_phone
from idp.messages import (
    CLAIM_LABELS,
    DOCUMENT_LABEL,
    NAME_LABELS,
    SUBJECT_LABEL,
    SUBJECT_VALUES,
    VERIFIED_WORDS,
)
from idp.models import Citizen, Consent
from idp.oidc import interaction

blueprint = Blueprint("consent", __name__, url_prefix="/consent")

# The parts of a name each name claim carries, in the order they are read.
NAME_PARTS = ("given_name", "first_surname", "second_surname")
NAME_CLAIMS = {"name": NAME_PARTS, "given_name": ("given_name",),
               "family_name": ("first_surname", "second_surname"),
               "first_surname": ("first_surname",), "second_surname": ("second_surname",)}


@dataclass(frozen=True)
class Released:
    """One line of the consent page: a piece of data as a person reads it, and whether it is
    verified, in words, when the body asks that too (said beside the value)."""

    label: str
    value: str
    verified: str | None = None


def released_data(claims: list[str], citizen: Citizen, *, public_subject: bool) -> list[Released]:
    """The requested claims grouped as a person reads them: name and surnames, document,
    date of birth, e-mail, phone (each with whether it is verified), then the identifier.
    The values are those released (idp.oidc.claims), the phone masked as on the account page."""
    asked, values = set(claims), interaction.claim_values(citizen)
    lines = [_name(asked, values), *_document(asked, values)]
    if "birthdate" in asked and citizen.birthdate:
        lines.append(Released(str(CLAIM_LABELS["birthdate"]), format_date(citizen.birthdate, "long")))
    lines.append(_contact(asked, values, "email", values["email"]))
    lines.append(_contact(asked, values, "phone_number", masked_phone(values["phone_number"])))
    subject = SUBJECT_VALUES["public" if public_subject else "pairwise"]
    lines.append(Released(str(SUBJECT_LABEL), str(subject)))
    return [line for line in lines if line is not None]


def _name(asked: set[str], values: dict[str, Any]) -> Released | None:
    parts = tuple(part for part in NAME_PARTS
                  if any(part in NAME_CLAIMS[claim] for claim in asked & NAME_CLAIMS.keys()))
    shown = " ".join(values[part] for part in parts if values[part])
    return Released(str(NAME_LABELS[parts]), shown) if shown else None


def _document(asked: set[str], values: dict[str, Any]) -> list[Released]:
    number, kind = "document_number" in asked, "document_type" in asked
    lines = []
    if number and kind:
        lines.append(Released(str(DOCUMENT_LABEL), f"{values['document_type']} {values['document_number']}"))
    elif number or kind:
        claim = "document_number" if number else "document_type"
        lines.append(Released(str(CLAIM_LABELS[claim]), values[claim]))
    if "person_identifier" in asked:
        lines.append(Released(str(CLAIM_LABELS["person_identifier"]), values["person_identifier"]))
    return lines


def _contact(asked: set[str], values: dict[str, Any], claim: str, shown: str) -> Released | None:
    """An address or number, with whether it is verified beside it when that is asked too;
    the flag alone is a line of its own."""
    flag = f"{claim}_verified"
    if claim in asked:
        return Released(str(CLAIM_LABELS[claim]), shown,
                        str(VERIFIED_WORDS[claim][values[flag]]) if flag in asked else None)
    if flag in asked:
        return Released(str(CLAIM_LABELS[flag]), str(VERIFIED_WORDS[claim][values[flag]]))
    return None


def _load() -> interaction.Pending | None:
    pending = interaction.load(request.values.get("ir"))
    if pending is None or pending.login_session is None:
        return None
    return pending


@blueprint.get("")
def show():  # type: ignore[no-untyped-def]
    pending = _load()
    if pending is None:
        return render_template("error.html", message_key="session_expired", status=400), 400
    released = released_data(pending.requested_claims, pending.login_session.citizen,  # type: ignore[union-attr]
                             public_subject=pending.client.subject_type == "public")
    return render_template("consent/show.html", pending=pending, released=released)


@blueprint.post("")
def decide():  # type: ignore[no-untyped-def]
    pending = _load()
    if pending is None:
        return render_template("error.html", message_key="session_expired", status=400), 400
    citizen = pending.login_session.citizen  # type: ignore[union-attr]
    client_id = pending.client.client_id
    if request.form.get("decision") != "allow":
        record_event(EventTag.CONSENT_DENIED, citizen, client_id=client_id)
        return interaction.deny(pending)
    consent = db.session.scalar(db.select(Consent).filter_by(citizen_id=citizen.id,
                                                             client_id=client_id))
    if consent is None:
        consent = Consent(citizen_id=citizen.id, client_id=client_id, claims=[])
        db.session.add(consent)
    consent.claims = sorted({*consent.claims, *pending.requested_claims})
    pending.request.consented = True
    record_event(EventTag.CONSENT_GRANTED, citizen, client_id=client_id,
                 claims=pending.requested_claims)
    return interaction.resume(pending)
