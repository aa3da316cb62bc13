"""The "new password twice" step shared by activation, expired-password renewal, password
change and forgotten-password reset: one parser, one policy check, one page; and what
follows when a new password replaces the citizen's own (``retire_old_password``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request

from idp import citizens, flow_state, notices
from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.firma import pki as firma
from idp.flows import forms
from idp.mobile.devices import revoke_all
from idp.models import Citizen
from idp.passkeys import store as passkeys
from idp.passwords import password_warnings
from idp.sessions import end_all_sessions, end_other_sessions


@dataclass
class NewPassword:
    """What the step came to: the password was saved, or the page shows these problems."""

    saved: bool = False
    errors: forms.FormErrors = field(default_factory=forms.FormErrors)
    warnings: list[str] = field(default_factory=list)


def respond(citizen: Citizen) -> NewPassword:
    """On a POST whose new password passes every rule (listed all at once when not), set
    it: this unblocks the password and restarts its 2 years. A GET just shows the form."""
    outcome = NewPassword()
    if request.method != "POST":
        return outcome
    new = forms.text("new_password", outcome.errors, strip=False)
    confirm = forms.text("new_password_confirm", outcome.errors, strip=False)
    if not outcome.errors:
        for key in citizens.password_problems(citizen, new, confirm):
            outcome.errors.add("new_password", key)
    if outcome.errors:
        outcome.warnings = password_warnings(new, citizens.personal_data(citizen))
        return outcome
    citizens.set_password(citizen, new)
    db.session.flush()
    outcome.saved = True
    return outcome


def page(outcome: NewPassword, *, heading: str, flow_steps: Sequence[str] = (),
         intro_key: str | None = None, **context: object):  # type: ignore[no-untyped-def]
    return render_template("new_password_step.html", errors=outcome.errors,
                           warnings=outcome.warnings, heading=heading, flow_steps=flow_steps,
                           intro_key=intro_key, **context), 400 if outcome.errors else 200


def view(kind: str, step: str, *, heading: str, flow_steps: Sequence[str],
         saved: Callable[[Citizen, dict[str, Any]], Any]):  # type: ignore[no-untyped-def]
    """The whole new-password page of flow ``kind`` at ``step``; once the password is set
    the flow is over and ``saved(citizen, flow data)`` gives the answer."""
    state = flow_state.current(kind, step)
    if state is None or state.citizen is None:
        return flow_state.expired_page()
    citizen, data = state.citizen, dict(state.data)
    outcome = respond(citizen)
    if not outcome.saved:
        return page(outcome, heading=heading, flow_steps=flow_steps)
    answer = saved(citizen, data)
    flow_state.finish(kind)
    return answer


@dataclass(frozen=True)
class Retired:
    """What went with the old password."""

    apps: int
    passkeys: int


def retire_old_password(citizen: Citizen, tag: EventTag, *, this_browser_too: bool = False,
                        **detail: Any) -> Retired:
    """Once a new password replaced the citizen's own (change, expired-password renewal,
    reset): whoever knew the old one may have enrolled an app, added a passkey or kept a
    session with it, so every enrolled app and passkey is revoked and every other session
    ends (this browser's too with ``this_browser_too``), with the new password and the
    audit event ``tag``; once that is committed, the citizen is told by SMS. Returns how
    many apps and passkeys were revoked.

    A reset also revokes the citizen's Cl@ve Firma certificates: whoever set the new
    password held the activation code and the phone, so the credential that authorises
    their signing key may have been in other hands. A change or renewal, made with the
    current password, does not: revoking would also cast doubt on every earlier signature
    that carries no time-stamp."""
    devices = revoke_all(citizen)
    revoked_passkeys = passkeys.revoke_all(citizen)
    if tag == EventTag.PASSWORD_RESET:
        firma.revoke_citizen_certificates(citizen.id, firma.RevocationReason.PASSWORD_RESET)
    record_event(tag, citizen, devices=devices, passkeys=revoked_passkeys, **detail)
    if devices:
        record_event(EventTag.DEVICES_REVOKED, citizen, devices=devices,
                     reason=tag.value)
    if revoked_passkeys:
        record_event(EventTag.PASSKEYS_REVOKED, citizen, passkeys=revoked_passkeys, reason=tag.value)
    if this_browser_too:
        end_all_sessions(citizen)
    else:
        end_other_sessions(citizen)
    notices.password_replaced(citizen, apps_revoked=devices, passkeys_revoked=revoked_passkeys)
    return Retired(devices, revoked_passkeys)
