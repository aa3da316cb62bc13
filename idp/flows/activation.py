"""Activation of Permanent Cl@ve: DNI/NIE + e-mail + activation code → SMS code → password."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from idp import citizens, ratelimit
from idp.audit import EventTag, record_event
from idp.documents import Document
from idp.flows import forms, new_password_step, otp_step
from idp.models import Citizen, CitizenStatus

blueprint = Blueprint("activation", __name__, url_prefix="/activate")
FLOW = "activation"
OTP_PURPOSE = "activation"
STEPS = (_l("Your details"), _l("SMS code"), _l("Choose a password"))


@blueprint.route("", methods=["GET", "POST"])
def start():  # type: ignore[no-untyped-def]
    errors = forms.FormErrors()
    if request.method == "GET":
        return render_template("activation/start.html", errors=errors, form={}, flow_steps=STEPS)
    document = forms.document(errors)
    email = forms.email(errors)
    code = forms.text("activation_code", errors)
    if not errors:
        assert document is not None
        limits = ratelimit.guard("activation", ip=ratelimit.client_address(), document=document.number)
        if not limits.reserve():
            return ratelimit.too_many_attempts()
        citizen = citizens.find(document)
        key = _refusal(document, citizen, email, code)
        if key is None:
            assert citizen is not None
            limits.release()
            record_event(EventTag.ACTIVATION_STARTED, citizen)
            return otp_step.begin(FLOW, citizen, OTP_PURPOSE, otp_step.shown_at("activation.otp", STEPS))
        errors.add("activation_code", key)
    form = {"document": request.form.get("document", "")[:32],
            "email": request.form.get("email", "")[:254]}
    return render_template("activation/start.html", errors=errors, form=form,
                           flow_steps=STEPS), 400


def _refusal(document: Document, citizen: Citizen | None, email: str, code: str) -> str | None:
    """The message key refusing this attempt, or None. Unknown documents and wrong
    e-mails count and get the same answers as a wrong code, blocked included."""
    outcome = citizens.check_activation_code(document, citizen, code, email=email)
    if outcome == citizens.CodeCheck.BLOCKED:
        return "activation_code_blocked"
    if outcome == citizens.CodeCheck.WRONG:
        return "activation_failed"
    assert citizen is not None
    if citizen.status == CitizenStatus.ACTIVE:
        return "already_active"
    return None


@blueprint.route("/otp", methods=["GET", "POST"])
def otp():  # type: ignore[no-untyped-def]
    return otp_step.view(FLOW, OTP_PURPOSE, STEPS, next_step="password",
                         next_endpoint="activation.password")


@blueprint.route("/password", methods=["GET", "POST"])
def password():  # type: ignore[no-untyped-def]
    return new_password_step.view(FLOW, "password", heading=_l("Choose your password"),
                                  flow_steps=STEPS, saved=_activated)


def _activated(citizen: Citizen, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    record_event(EventTag.ACTIVATED, citizen)
    return render_template("activation/done.html")
