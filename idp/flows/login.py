"""Permanent Cl@ve login: DNI/NIE + password, then an SMS code when the level asks for it.

The password step hands out only a "second factor pending" flow state; the single sign-on
session starts after the last factor. A session at a lower level is stepped up by asking
only for the missing SMS code.

An expired password is renewed as in the change flow (SPEC §3.3, §3.4): the SMS code comes
first, whatever level the relying party asked for, since the new password replaces the
citizen's own; the login then completes at the substantial level (both factors were shown).
"""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l

from idp import flow_state, metrics, ratelimit
from idp.assurance import ACR_LOW, ACR_SUBSTANTIAL, acr_rank
from idp.audit import EventTag, record_event
from idp.flows import forms, identify, new_password_step, otp_step
from idp.kept_pages import CSRF_TOKEN, KeptPage
from idp.metrics import LoginMethod, LoginOutcome
from idp.models import Citizen, FlowState
from idp.oidc import interaction
from idp.sessions import current_session, start_session

blueprint = Blueprint("login", __name__, url_prefix="/login")
FLOW = "login"
OTP_PURPOSE = "login"
STEPS = (_l("DNI/NIE and password"), _l("SMS code"))
RENEWAL_STEPS = (*STEPS, _l("New password"))
# A page of the IdP's own that sent the citizen to log in (a signature to review): the
# login without a relying party returns there instead of the account page.
AFTER_LOGIN = "after_login"


def _pending() -> interaction.Pending | None:
    return interaction.load(request.values.get("ir"))


def _target_acr(pending: interaction.Pending | None) -> str:
    """The level this login must reach: the RP's, or substantial for the IdP's own account
    page (a login without a relying party)."""
    return pending.required_acr if pending else ACR_SUBSTANTIAL


# The login page's text changes only with the language, which way is open and what was
# refused: kept per such key, each request's own values filled in (idp.kept_pages).
LOGIN_PAGE = KeptPage("login/password.html", CSRF_TOKEN, "page_path", "ir", "document",
                      "requester", "challenge_id", "verification_code", "seconds_left", "deep_link")


def render_login(pending: interaction.Pending | None, errors: forms.FormErrors | None = None,
                 document: str = "", status: int = 200, passkey_problem: str | None = None):  # type: ignore[no-untyped-def]
    """The login page with its three ways; after a refusal, with the way that was refused
    shown and what went wrong. Also the answer of an authorization request that needs a
    login (``idp.oidc.interaction``): its language form and reload lead to ``GET /login``."""
    key, context, values = login_page(pending, errors, document, passkey_problem)
    return LOGIN_PAGE.render(key, context, values, partial(login_stand_ins, pending is not None)), status


def login_page(pending: interaction.Pending | None, errors: forms.FormErrors | None,
               document: str, passkey_problem: str | None) -> tuple[tuple, dict[str, Any], dict[str, object]]:
    """What the login page shows: the key its text is kept by, the template's context,
    and the values of this request that the kept text leaves out."""
    from idp.flows.mobile import qr_context

    refused = errors is not None or passkey_problem is not None
    # Shown again after a refusal: with the QR code it showed, not a new one.
    qr = qr_context(pending, shown_again=refused)
    tab = "passkey" if passkey_problem else "permanent" if errors else "mobile"
    errors = errors or forms.FormErrors()
    # The page's own address, whichever request showed it (the authorization request, a
    # refused form): where its language form returns.
    page_path = url_for("login.start", ir=pending.request.id) if pending else request.full_path
    context = {"pending": pending, "errors": errors, "tab": tab, "passkey_problem": passkey_problem,
               "document": document or (pending.params.get("login_hint", "") if pending else ""),
               "ir": pending.request.id if pending else "", "page_path": page_path, **qr}
    values = {"page_path": context["page_path"], "ir": context["ir"], "document": context["document"],
              "requester": pending.client.name if pending else "", "challenge_id": qr["challenge"].id,
              "verification_code": qr["challenge"].verification_code,
              "seconds_left": qr["seconds_left"], "deep_link": qr["deep_link"]}
    shown = tuple((name, tuple(keys)) for name, keys in errors.items())
    key = (tab, pending is not None, passkey_problem, shown)
    return key, context, values


def login_stand_ins(with_pending: bool) -> dict[str, Any]:
    marker = LOGIN_PAGE.marker
    requester = SimpleNamespace(client=SimpleNamespace(name=marker("requester")))
    return {"pending": requester if with_pending else None,
            "challenge": SimpleNamespace(id=marker("challenge_id"),
                                         verification_code=marker("verification_code")),
            **{slot: marker(slot) for slot in ("page_path", "ir", "document", "seconds_left", "deep_link")}}


@blueprint.get("")
def start():  # type: ignore[no-untyped-def]
    pending = _pending()
    if request.args.get("ir") and pending is None:
        return render_template("error.html", message_key="session_expired", status=400), 400
    session_now = current_session()
    needed = interaction.needed(pending) if pending and session_now else None
    if session_now and needed is not None and needed.kind == "step_up":
        # Only on the citizen's click: a page load alone must not send SMS messages.
        return render_template("login/step_up.html", pending=pending, ir=pending.request.id,
                               last_digits=session_now.citizen.phone[-3:])
    return render_login(pending)


@blueprint.post("/step-up")
def step_up():  # type: ignore[no-untyped-def]
    """Raise the level of the current session by asking only for the missing SMS code."""
    pending = _pending()
    session_now = current_session()
    needed = interaction.needed(pending) if pending and session_now else None
    if session_now is None or needed is None or needed.kind != "step_up":
        return render_template("error.html", message_key="session_expired", status=400), 400
    return _start_otp(session_now.citizen, pending, amr=list(session_now.amr))


@blueprint.post("")
def password():  # type: ignore[no-untyped-def]
    pending = _pending()
    attempt = identify.with_password(client_id=pending.client.client_id if pending else None)
    if attempt.rate_limited:
        metrics.login(LoginMethod.PASSWORD, LoginOutcome.REFUSED)
        return ratelimit.too_many_attempts()
    citizen = attempt.citizen
    if citizen is None:
        if attempt.status == 401:  # not a form sent incomplete
            metrics.login(LoginMethod.PASSWORD, LoginOutcome.FAILED)
        return render_login(pending, attempt.errors, attempt.document, attempt.status)
    if citizen.password_expired():
        record_event(EventTag.PASSWORD_EXPIRED, citizen)
        return _start_otp(citizen, pending, amr=["pwd"], renewal=True)
    return _after_password(citizen, pending)


def _after_password(citizen: Citizen, pending: interaction.Pending | None):  # type: ignore[no-untyped-def]
    if acr_rank(_target_acr(pending)) >= acr_rank(ACR_SUBSTANTIAL):
        return _start_otp(citizen, pending, amr=["pwd"])
    flow_state.finish(FLOW)
    return finish_login(citizen, pending, acr=ACR_LOW, amr=["pwd"])


def _start_otp(citizen: Citizen, pending: interaction.Pending | None, amr: list[str],
               renewal: bool = False):  # type: ignore[no-untyped-def]
    """The SMS-code page, answered here (one request fewer than a redirect to it)."""
    return otp_step.begin(FLOW, citizen, OTP_PURPOSE, partial(_otp_page, pending=pending),
                          pending_request_id=pending.request.id if pending else None, amr=amr,
                          renewal=renewal)


def finish_login(citizen: Citizen, pending: interaction.Pending | None, *, acr: str,
                 amr: list[str], method: LoginMethod = LoginMethod.PASSWORD):  # type: ignore[no-untyped-def]
    login_session = start_session(citizen, acr=acr, amr=amr)
    metrics.login(method, LoginOutcome.SUCCEEDED)
    record_event(EventTag.LOGIN_SUCCEEDED, citizen, acr=acr, amr=amr,
                 client_id=pending.client.client_id if pending else None)
    back = _page_after_login()  # taken either way: a page left behind is not returned to later
    if pending is None:
        return redirect(back)
    return interaction.resume(pending.logged_in(login_session))


def log_in_then_return(path: str):  # type: ignore[no-untyped-def]
    """Send the citizen to log in at the substantial level, and back to ``path`` (a path
    of this site) once they have."""
    session[AFTER_LOGIN] = path
    return redirect(url_for("login.start"))


def _page_after_login() -> str:
    back = session.pop(AFTER_LOGIN, None)
    if isinstance(back, str) and back.startswith("/") and not back.startswith("//"):
        return back
    return url_for("account.show")


@blueprint.route("/otp", methods=["GET", "POST"])
def otp():  # type: ignore[no-untyped-def]
    state = flow_state.current(FLOW, "otp")
    if state is None or state.citizen is None:
        return flow_state.expired_page()
    citizen = state.citizen
    pending = interaction.load(state.pending_request_id)
    renewal = bool(state.data.get("renewal"))
    verified, problem = otp_step.respond(state, citizen, OTP_PURPOSE)
    if verified:
        amr = sorted({*state.data.get("amr", ["pwd"]), "sms", "mfa"})
        if renewal:
            flow_state.advance(state, "expired", amr=amr)
            return redirect(url_for("login.expired"))
        return _finish(state, citizen, pending, amr)
    return _otp_page(state, problem, pending)


def _otp_page(state: FlowState, problem: str | None, pending: interaction.Pending | None):  # type: ignore[no-untyped-def]
    if state.data.get("renewal"):
        return otp_step.page(state, problem, url_for("login.otp"), RENEWAL_STEPS,
                             intro_key="password_expired", pending=pending)
    return otp_step.page(state, problem, url_for("login.otp"), STEPS, pending=pending)


@blueprint.route("/expired", methods=["GET", "POST"])
def expired():  # type: ignore[no-untyped-def]
    """The new password of an expired one, asked only once the SMS code is in."""
    state = flow_state.current(FLOW, "expired")
    # The flow reaches this step past the SMS code; a state that did not (one left by an
    # older version, which asked the code after the new password) starts again.
    if state is None or state.citizen is None or "sms" not in state.data.get("amr", ()):
        return flow_state.expired_page()
    citizen = state.citizen
    pending = interaction.load(state.pending_request_id)
    outcome = new_password_step.respond(citizen)
    if not outcome.saved:
        return new_password_step.page(outcome, heading=_l("Your password has expired"),
                                      flow_steps=RENEWAL_STEPS, intro_key="password_expired",
                                      pending=pending)
    # Sessions opened with the old password end with it, this browser's too: the login
    # below opens a fresh one.
    new_password_step.retire_old_password(citizen, EventTag.PASSWORD_CHANGED,
                                          this_browser_too=True, reason="expired")
    return _finish(state, citizen, pending, state.data["amr"])


def _finish(state: FlowState, citizen: Citizen, pending: interaction.Pending | None,
            amr: list[str]):  # type: ignore[no-untyped-def]
    """The last step of the flow is done: log in at the substantial level, then end the
    flow (with its pending request, when that was answered: no statement of its own)."""
    response = finish_login(citizen, pending, acr=ACR_SUBSTANTIAL, amr=amr)
    flow_state.finished_with_request(state, pending is not None and interaction.answered(pending))
    return response
