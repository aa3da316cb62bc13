"""Unsubscribe from Permanent Cl@ve (SPEC §3.7): DNI/NIE + password → SMS code → explicit
confirmation.

More than 3 wrong SMS codes (across resends) throw the citizen back to the first step:
cancelling a national identity must not be reachable by guessing codes. Once confirmed,
every session, token, consent, enrolled app, passkey and Cl@ve Firma certificate of the
citizen is revoked, the stored secrets are dropped, and a later login fails exactly like
one for an unknown document; coming back takes a new registration act
(``citizens.register`` starts them afresh).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, session
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete

from idp import flow_state
from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.firma import pki as firma
from idp.flows import forms, identify, otp_step
from idp.mobile.devices import revoke_all
from idp.models import Citizen, CitizenStatus, Consent
from idp.passkeys import store as passkeys
from idp.sessions import SESSION_TOKEN, end_all_sessions

blueprint = Blueprint("unsubscribe", __name__, url_prefix="/unsubscribe")
FLOW = "unsubscribe"
OTP_PURPOSE = "unsubscribe"
STEPS = (_l("DNI/NIE and password"), _l("SMS code"), _l("Confirm"))
MAX_WRONG_CODES = 3


def _start_page(errors: forms.FormErrors, document: str, status: int = 200, *,
                restarted: bool = False):  # type: ignore[no-untyped-def]
    return render_template("unsubscribe/start.html", errors=errors, document=document,
                           restarted=restarted, flow_steps=STEPS), status


@blueprint.get("")
def start():  # type: ignore[no-untyped-def]
    return _start_page(forms.FormErrors(), identify.logged_in_document(),
                       restarted=request.args.get("restarted") == "1")


@blueprint.post("")
def check_password():  # type: ignore[no-untyped-def]
    return identify.password_then_sms(
        FLOW, OTP_PURPOSE, otp_step.shown_at("unsubscribe.otp", STEPS),
        refused=lambda attempt: _start_page(attempt.errors, attempt.document, attempt.status))


@blueprint.route("/otp", methods=["GET", "POST"])
def otp():  # type: ignore[no-untyped-def]
    return otp_step.view(FLOW, OTP_PURPOSE, STEPS, next_step="confirm",
                         next_endpoint="unsubscribe.confirm", restart_after=MAX_WRONG_CODES,
                         restart_endpoint="unsubscribe.start")


@blueprint.route("/confirm", methods=["GET", "POST"])
def confirm():  # type: ignore[no-untyped-def]
    state = flow_state.current(FLOW, "confirm")
    if state is None or state.citizen is None:
        return flow_state.expired_page()
    if request.method == "GET":
        return render_template("unsubscribe/confirm.html", citizen=state.citizen, flow_steps=STEPS)
    unsubscribe_citizen(state.citizen)
    flow_state.finish(FLOW)
    session.pop(SESSION_TOKEN, None)
    return render_template("unsubscribe/done.html")


def unsubscribe_citizen(citizen: Citizen, *, channel: str = "online") -> None:
    """Cancel the citizen's Permanent Cl@ve and everything that let them in with it (here,
    or at an office: ``idp citizen unsubscribe``)."""
    citizen.status = CitizenStatus.UNSUBSCRIBED
    citizen.password_hash = citizen.previous_password_hash = None
    citizen.password_set_at = citizen.password_expires_at = None
    citizen.activation_code_hash = None
    consents = db.session.execute(delete(Consent).where(Consent.citizen_id == citizen.id)).rowcount
    devices = revoke_all(citizen)
    revoked_passkeys = passkeys.revoke_all(citizen)
    firma.revoke_citizen_certificates(citizen.id, firma.RevocationReason.UNSUBSCRIBED)
    # Every session of the citizen ends, open or timed out, and takes its tokens along
    # (those of sessions ended before went with them): no token is left to revoke.
    end_all_sessions(citizen)
    record_event(EventTag.UNSUBSCRIBED, citizen, consents=consents, devices=devices,
                 passkeys=revoked_passkeys, channel=channel)
