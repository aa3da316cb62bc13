"""The pages that act for a logged-in citizen (the account page, passkeys, Cl@ve Firma)
need a single sign-on session at the substantial level (password + SMS code, Cl@ve mobile
or a passkey): they show personal data, end sessions and apps, and sign. Anyone else logs
in first and comes back."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import url_for

from idp.assurance import ACR_SUBSTANTIAL, acr_rank
from idp.flows.login import log_in_then_return
from idp.models import LoginSession
from idp.sessions import current_session


def substantial_session() -> LoginSession | None:
    """This browser's session if it is live and substantial, else None."""
    login_session = current_session()
    if login_session is None or acr_rank(login_session.acr) < acr_rank(ACR_SUBSTANTIAL):
        return None
    return login_session


def requires_substantial_session(back_to: Callable[..., str] | None = None):  # type: ignore[no-untyped-def]
    """A view given the session as ``login_session``; without one, the citizen logs in and
    comes back to ``back_to(**view_args)`` (a page that can be shown again; the account
    page when None: a form posted before the login is not posted again after it)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(**view_args: Any) -> Any:
            login_session = substantial_session()
            if login_session is None:
                return log_in_then_return(back_to(**view_args) if back_to else url_for("account.show"))
            return view(login_session=login_session, **view_args)
        return guarded
    return decorate
