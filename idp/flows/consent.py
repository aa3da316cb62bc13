"""Consent: the citizen sees which data the requesting body receives, and decides."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.models import Consent
from idp.oidc import interaction

blueprint = Blueprint("consent", __name__, url_prefix="/consent")


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
    return render_template("consent/show.html", pending=pending, claims=pending.requested_claims)


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
