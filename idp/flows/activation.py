"""Activation of Permanent Cl@ve: DNI/NIE + e-mail + activation code → SMS code → password."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from idp import citizens, ratelimit
from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.flows import forms, otp_step
from idp.flows import state as flow_state
from idp.models import CitizenStatus
from idp.passwords import password_warnings

blueprint = Blueprint("activation", __name__, url_prefix="/activate")
FLOW = "activation"
OTP_PURPOSE = "activation"


def _expired():  # type: ignore[no-untyped-def]
    return render_template("error.html", message_key="session_expired", status=400), 400


@blueprint.route("", methods=["GET", "POST"])
def start():  # type: ignore[no-untyped-def]
    errors = forms.FormErrors()
    if request.method == "GET":
        return render_template("activation/start.html", errors=errors, form={})
    document = forms.document(errors)
    email = forms.email(errors)
    code = forms.text("activation_code", errors)
    if not errors:
        assert document is not None
        limits = ratelimit.guard("activation", ip=ratelimit.client_address(), document=document.number)
        if limits.exceeded:
            return ratelimit.too_many_attempts()
        citizen = citizens.find(document)
        key = _refusal(citizen, email, code)
        if key is not None:
            limits.hit()
        if key is None:
            assert citizen is not None
            state = flow_state.start(FLOW, "otp", citizen)
            record_event(EventTag.ACTIVATION_STARTED, citizen)
            problem = otp_step.send(state, citizen, OTP_PURPOSE)
            return redirect(url_for("activation.otp", problem=problem) if problem
                            else url_for("activation.otp"))
        errors.add("activation_code", key)
    form = {"document": request.form.get("document", "")[:32],
            "email": request.form.get("email", "")[:254]}
    return render_template("activation/start.html", errors=errors, form=form), 400


def _refusal(citizen, email: str, code: str) -> str | None:  # type: ignore[no-untyped-def]
    """The message key refusing this attempt, or None. Unknown documents and wrong
    e-mails get the same answer as a wrong code."""
    if citizen is None or citizen.status == CitizenStatus.UNSUBSCRIBED:
        return "activation_failed"
    if citizen.email.lower() != email:
        return "activation_failed"
    outcome = citizens.verify_activation_code(citizen, code)
    if outcome == citizens.CodeCheck.BLOCKED:
        return "activation_code_blocked"
    if outcome == citizens.CodeCheck.WRONG:
        return "activation_failed"
    if citizen.status == CitizenStatus.ACTIVE:
        return "already_active"
    return None


@blueprint.route("/otp", methods=["GET", "POST"])
def otp():  # type: ignore[no-untyped-def]
    state = flow_state.current(FLOW, "otp")
    if state is None or state.citizen is None:
        return _expired()
    verified, problem = otp_step.respond(state, state.citizen, OTP_PURPOSE)
    if verified:
        flow_state.advance(state, "password")
        return redirect(url_for("activation.password"))
    return otp_step.page("activation/otp.html", state.citizen, problem, url_for("activation.otp"))


@blueprint.route("/password", methods=["GET", "POST"])
def password():  # type: ignore[no-untyped-def]
    state = flow_state.current(FLOW, "password")
    if state is None or state.citizen is None:
        return _expired()
    citizen = state.citizen
    errors = forms.FormErrors()
    warnings: list[str] = []
    if request.method == "POST":
        new = forms.text("new_password", errors, strip=False)
        confirm = forms.text("new_password_confirm", errors, strip=False)
        if not errors:
            for key in citizens.password_problems(citizen, new, confirm):
                errors.add("new_password", key)
        if not errors:
            citizens.set_password(citizen, new)
            db.session.commit()
            record_event(EventTag.ACTIVATED, citizen)
            flow_state.finish(FLOW)
            return render_template("activation/done.html")
        warnings = password_warnings(new, citizens.personal_data(citizen))
    return render_template("activation/password.html", errors=errors, warnings=warnings), (
        400 if errors else 200)
