"""Cl@ve mobile in the browser: the QR code, waiting for the app, and continuing.

The browser polls ``status`` (login.js) and continues by itself; without JavaScript the
"continue" button does the same check. An approval becomes a login only in the browser
the challenge was shown to.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from idp import citizens, metrics, ratelimit
from idp.assurance import ACR_SUBSTANTIAL
from idp.audit import EventTag, record_event
from idp.flows import forms
from idp.metrics import LoginMethod, LoginOutcome, mobile_method
from idp.mobile import challenges, qr
from idp.mobile.models import ChallengeKind, ChallengeStatus, MobileChallenge
from idp.oidc import interaction

blueprint = Blueprint("mobile", __name__)
MOBILE_AMR = ["mfa", "swk", "user"]  # RFC 8176: key held by the app + the citizen's approval


def deep_link(challenge: MobileChallenge | challenges.QrDraft) -> str:
    return f"{current_app.config['IDP_ISSUER']}/m/c/{challenge.id}"


def seconds_left(challenge: MobileChallenge | challenges.QrDraft) -> int:
    from idp.clock import clock

    return max(0, int((challenge.expires_at - clock.now()).total_seconds()))


def qr_context(pending: interaction.Pending | None, *, shown_again: bool = False) -> dict[str, Any]:
    """What the login page needs to show its QR challenge (drafted: stored once this
    browser asks for the image or the status)."""
    challenge = challenges.draft_qr(pending, shown_again=shown_again)
    return {"challenge": challenge, "seconds_left": seconds_left(challenge),
            "deep_link": deep_link(challenge)}


def public_status(challenge: MobileChallenge) -> str:
    if challenge.status == ChallengeStatus.PENDING and challenge.expired():
        return "expired"
    return challenge.status


@blueprint.get("/mobile/qr/<challenge_id>.png")
def qr_image(challenge_id: str):  # type: ignore[no-untyped-def]
    challenge = challenges.bound(challenge_id)
    if challenge is None:
        return Response(status=404)
    return Response(qr.png(deep_link(challenge)), mimetype="image/png",
                    headers={"Cache-Control": "no-store"})


@blueprint.get("/mobile/status/<challenge_id>")
def status(challenge_id: str):  # type: ignore[no-untyped-def]
    challenge = challenges.bound(challenge_id)
    if challenge is None:
        return jsonify(status="unknown"), 404
    return jsonify(status=public_status(challenge), expires_in=seconds_left(challenge))


def _pending_of(challenge: MobileChallenge) -> interaction.Pending | None:
    return interaction.load(challenge.auth_request_id) if challenge.auth_request_id else None


@blueprint.post("/mobile/continue")
def proceed():  # type: ignore[no-untyped-def]
    from idp.flows.login import finish_login

    challenge = challenges.bound(request.form.get("challenge"))
    if challenge is None or challenge.kind == ChallengeKind.SIGNATURE:  # never a login
        return render_template("error.html", message_key="session_expired", status=400), 400
    pending = _pending_of(challenge)
    state = public_status(challenge)
    if state == ChallengeStatus.APPROVED:
        citizen = challenges.consume(challenge)
        if citizen is not None:
            return finish_login(citizen, pending, acr=ACR_SUBSTANTIAL, amr=MOBILE_AMR,
                                method=mobile_method(challenge.kind))
        state = "expired"
    code = 200 if state == ChallengeStatus.PENDING else 400
    return render_template("mobile/waiting.html", challenge=challenge, state=state, pending=pending,
                           ir=pending.request.id if pending else "",
                           seconds_left=seconds_left(challenge)), code


@blueprint.post("/mobile/push")
def push():  # type: ignore[no-untyped-def]
    pending = interaction.load(request.form.get("ir"))
    errors = forms.FormErrors()
    document = forms.document(errors)
    contrast = forms.text("contrast_data", errors)
    if errors:
        return render_template("mobile/push_form.html", errors=errors, pending=pending,
                               ir=pending.request.id if pending else ""), 400
    assert document is not None
    limits = ratelimit.guard("push", ip=ratelimit.client_address(), document=document.number)
    # Never given back: every push disturbs a phone, so all of them count (approval fatigue).
    if not limits.reserve():
        metrics.login(LoginMethod.MOBILE_PUSH, LoginOutcome.REFUSED)
        return ratelimit.too_many_attempts()
    citizen = citizens.find(document)
    if citizen is not None and not (citizen.is_active and citizens.matches_contrast(citizen, contrast)):
        citizen = None
    challenge = challenges.create_push(citizen, pending)
    record_event(EventTag.MOBILE_PUSH_REQUESTED, citizen if challenge.citizen_id else None)
    return render_template("mobile/waiting.html", challenge=challenge, state="pending", pending=pending,
                           ir=pending.request.id if pending else "", seconds_left=seconds_left(challenge))


@blueprint.get("/m/c/<challenge_id>")
def app_link(challenge_id: str):  # type: ignore[no-untyped-def]
    """Where the QR's link lands when opened by a phone without the app installed."""
    return render_template("mobile/app_link.html")
