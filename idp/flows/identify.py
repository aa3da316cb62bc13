"""The DNI/NIE + password step of login, password change and unsubscribe.

All three check the password the same way, so that none of them is a cheaper oracle than
the login page: the same rate limits, every wrong password counted towards the block, and
the same uniform refusal for an unknown document, a wrong password or a blocked one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import request

from idp import citizens, ratelimit
from idp.audit import EventTag, record_event
from idp.flows import forms, otp_step
from idp.models import Citizen
from idp.sessions import current_session


@dataclass
class Attempt:
    """The citizen when the password was right; otherwise what to show, and the status."""

    citizen: Citizen | None = None
    errors: forms.FormErrors = field(default_factory=forms.FormErrors)
    status: int = 200
    document: str = ""

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


def with_password(**event_detail: object) -> Attempt:
    """Check the posted ``document`` and ``password``; ``event_detail`` goes into the
    audit event of a failure (which flow, which client)."""
    attempt = Attempt(document=request.form.get("document", "")[:32])
    document = forms.document(attempt.errors)
    secret = forms.text("password", attempt.errors, strip=False)
    if attempt.errors:
        attempt.status = 400
        return attempt
    assert document is not None
    attempt.document = document.number
    limits = ratelimit.guard("login", ip=ratelimit.client_address(), document=document.number)
    if not limits.reserve():
        attempt.status = 429
        return attempt
    citizen = citizens.find(document)
    outcome = citizens.verify_password(citizen, secret)
    if outcome != citizens.PasswordCheck.OK:
        record_event(EventTag.LOGIN_FAILED, citizen if citizen and citizen.is_active else None,
                     reason=outcome.value, **event_detail)  # type: ignore[arg-type]
        attempt.errors.add("password", "login_failed")
        attempt.status = 401
        return attempt
    limits.release()
    attempt.citizen = citizen
    return attempt


def password_then_sms(kind: str, purpose: str, shown: otp_step.ShowPage,
                      refused: Callable[[Attempt], Any]):  # type: ignore[no-untyped-def]
    """First step of a flow that starts with the password: right, and an SMS code goes
    out for flow ``kind``, whose page ``shown`` answers; wrong, and ``refused(attempt)``
    shows the form again."""
    attempt = with_password(flow=kind)
    if attempt.rate_limited:
        return ratelimit.too_many_attempts()
    if attempt.citizen is None:
        return refused(attempt)
    return otp_step.begin(kind, attempt.citizen, purpose, shown)


def logged_in_document() -> str:
    """The DNI/NIE to offer in a form when this browser is logged in, else nothing."""
    login_session = current_session()
    return login_session.citizen.document if login_session else ""
