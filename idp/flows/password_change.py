"""Password change (SPEC §3.4): DNI/NIE + current password → SMS code → new password twice.

The current password is checked exactly as at login (``identify.with_password``), so this
page is no cheaper a guessing oracle than the login page. The new password restarts the
2 years, ends every other session of the citizen (this browser's stays) and revokes the
enrolled Cl@ve mobile apps: an app enrolled by whoever knew the old password must not
outlive it. The citizen is told by SMS.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from idp.audit import EventTag
from idp.flows import forms, identify, new_password_step, otp_step
from idp.models import Citizen

blueprint = Blueprint("password_change", __name__, url_prefix="/password/change")
FLOW = "password_change"
OTP_PURPOSE = "password_change"
STEPS = (_l("DNI/NIE and current password"), _l("SMS code"), _l("New password"))


def _start_page(errors: forms.FormErrors, document: str, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("password_change/start.html", errors=errors, document=document,
                           flow_steps=STEPS), status


@blueprint.get("")
def start():  # type: ignore[no-untyped-def]
    return _start_page(forms.FormErrors(), identify.logged_in_document())


@blueprint.post("")
def check_password():  # type: ignore[no-untyped-def]
    return identify.password_then_sms(
        FLOW, OTP_PURPOSE, otp_step.shown_at("password_change.otp", STEPS),
        refused=lambda attempt: _start_page(attempt.errors, attempt.document, attempt.status))


@blueprint.route("/otp", methods=["GET", "POST"])
def otp():  # type: ignore[no-untyped-def]
    return otp_step.view(FLOW, OTP_PURPOSE, STEPS, next_step="new_password",
                         next_endpoint="password_change.new_password")


@blueprint.route("/new", methods=["GET", "POST"])
def new_password():  # type: ignore[no-untyped-def]
    return new_password_step.view(FLOW, "new_password", heading=_l("Choose your new password"),
                                  flow_steps=STEPS, saved=_changed)


def _changed(citizen: Citizen, data: dict[str, Any]):  # type: ignore[no-untyped-def]
    retired = new_password_step.retire_old_password(citizen, EventTag.PASSWORD_CHANGED,
                                                    reason="change")
    return render_template("password_change/done.html", devices_revoked=retired.apps,
                           passkeys_revoked=retired.passkeys)
