"""The "new password twice" step shared by activation, expired-password renewal, password
change and forgotten-password reset: one parser, one policy check, one page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request

from idp import citizens
from idp.extensions import db
from idp.flows import forms
from idp.flows import state as flow_state
from idp.models import Citizen
from idp.passwords import password_warnings


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
    db.session.commit()
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
    flow_state.finish(kind)
    return saved(citizen, data)
