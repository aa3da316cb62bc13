"""Forgotten or blocked password (SPEC §3.5): DNI/NIE + activation code → SMS code → new
password twice. The new password unblocks the password and ends every other session.
A reset is a recovery: whoever forgot the password may not be the only one who had it, so
the enrolled Cl@ve mobile apps are revoked too (the citizen enrolls theirs again with the
new password and an SMS code), as after any new password; the citizen is told by SMS.

The seeds ask for the DNI/NIE and the activation code only, and so do we: the code is a
16-character secret from the registration act, blocked after 5 wrong entries, and the SMS
code to the registered phone follows; contrast data would add a fact that the activation
code already proves. Wrong codes count and block exactly as in activation
(``citizens.check_activation_code``), for unknown documents too, so that reaching "blocked"
does not tell a registered document from an unknown one.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from idp import citizens, ratelimit
from idp.audit import EventTag
from idp.documents import Document
from idp.flows import forms, new_password_step, otp_step
from idp.models import Citizen, CitizenStatus

blueprint = Blueprint("password_reset", __name__, url_prefix="/password/forgot")
FLOW = "password_reset"
OTP_PURPOSE = "password_reset"
STEPS = (_l("DNI/NIE and activation code"), _l("SMS code"), _l("New password"))


def _start_page(errors: forms.FormErrors, document: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("password_reset/start.html", errors=errors, document=document,
                           flow_steps=STEPS), status


@blueprint.get("")
def start():  # type: ignore[no-untyped-def]
    return _start_page(forms.FormErrors())


@blueprint.post("")
def check_code():  # type: ignore[no-untyped-def]
    errors = forms.FormErrors()
    document = forms.document(errors)
    code = forms.text("activation_code", errors)
    typed = request.form.get("document", "")[:32]
    if errors:
        return _start_page(errors, typed, 400)
    assert document is not None
    limits = ratelimit.guard("reset", ip=ratelimit.client_address(), document=document.number)
    if not limits.reserve():
        return ratelimit.too_many_attempts()
    citizen = citizens.find(document)
    key = _refusal(document, citizen, code)
    if key is not None:
        errors.add("activation_code", key)
        return _start_page(errors, document.number, 400)
    assert citizen is not None
    limits.release()
    return otp_step.begin(FLOW, citizen, OTP_PURPOSE, otp_step.shown_at("password_reset.otp", STEPS),
                          was_blocked=citizen.password_blocked)


def _refusal(document: Document, citizen: Citizen | None, code: str) -> str | None:
    """The message key refusing this attempt, or None. An unknown or unsubscribed document
    gets the answers of a wrong code, blocked included; only a right code learns the Cl@ve
    is not active yet."""
    outcome = citizens.check_activation_code(document, citizen, code)
    if outcome == citizens.CodeCheck.BLOCKED:
        return "activation_code_blocked"
    if outcome == citizens.CodeCheck.WRONG:
        return "reset_failed"
    assert citizen is not None
    if citizen.status != CitizenStatus.ACTIVE:
        return "not_yet_active"
    return None


@blueprint.route("/otp", methods=["GET", "POST"])
def otp():  # type: ignore[no-untyped-def]
    return otp_step.view(FLOW, OTP_PURPOSE, STEPS, next_step="new_password",
                         next_endpoint="password_reset.new_password")


@blueprint.route("/new", methods=["GET", "POST"])
def new_password():  # type: ignore[no-untyped-def]
    return new_password_step.view(FLOW, "new_password", heading=_l("Choose your new password"),
                                  flow_steps=STEPS, saved=_reset)


def _reset(citizen: Citizen, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    retired = new_password_step.retire_old_password(citizen, EventTag.PASSWORD_RESET,
                                                    unblocked=data["was_blocked"])
    return render_template("password_reset/done.html", devices_revoked=retired.apps,
                           passkeys_revoked=retired.passkeys)
