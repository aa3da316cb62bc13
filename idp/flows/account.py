"""The citizen's account page: personal data as registered, open sessions (each can be
closed), recent security activity, and the ways to change or cancel the Cl@ve.

Only a live single sign-on session at substantial level (password + SMS code, Cl@ve
mobile or a passkey) opens it: the page shows personal data and ends sessions and apps, so a password
alone is not enough. Anyone else is sent to log in first (a login without a relying party
asks for the SMS code and lands here).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.firma.decisions import signatures_of
from idp.flows.substantial import requires_substantial_session
from idp.messages import EVENT_LABELS, event_label
from idp.mobile.devices import active_devices, revoke_device
from idp.models import AuditEvent, Citizen, LoginSession
from idp.passkeys.store import MAX_PASSKEYS, active_passkeys
from idp.sessions import close_session, end_session, idle_since
from idp.user_agents import describe_device

blueprint = Blueprint("account", __name__, url_prefix="/account")
RECENT_EVENTS = 20
PASSKEY_NOTICES = ("added", "renamed", "removed")

def masked_phone(phone: str) -> str:
    """Enough to recognise one's own number, not enough to read it over a shoulder."""
    return phone[:3] + "•" * max(len(phone) - 6, 0) + phone[-3:]


def open_sessions(citizen: Citizen) -> list[LoginSession]:
    candidates = db.session.scalars(
        db.select(LoginSession)
        .filter_by(citizen_id=citizen.id, ended_at=None, epoch=citizen.session_epoch)
        .where(LoginSession.expires_at > clock.now(), LoginSession.last_seen_at > idle_since())
        .order_by(LoginSession.created_at.desc()))
    return list(candidates)


def recent_activity(citizen: Citizen) -> list[AuditEvent]:
    """The citizen's latest security events; protocol plumbing (codes, tokens) is left out."""
    return list(db.session.scalars(
        db.select(AuditEvent)
        .where(AuditEvent.citizen_id == citizen.id, AuditEvent.tag.in_(list(EVENT_LABELS)))
        .order_by(AuditEvent.id.desc())
        .limit(RECENT_EVENTS)))


@blueprint.get("")
@requires_substantial_session()
def show(login_session: LoginSession):  # type: ignore[no-untyped-def]
    return page(login_session)


def page(login_session: LoginSession, *, passkey_errors: dict[str, list[str]] | None = None,
         status: int = 200):  # type: ignore[no-untyped-def]
    """The account page of this session's citizen (with what a passkey form refused)."""
    citizen = login_session.citizen
    passkey_notice = request.args.get("passkey")
    return render_template(
        "account/show.html", citizen=citizen, this_session=login_session,
        sessions=open_sessions(citizen), events=recent_activity(citizen),
        devices=active_devices(citizen), describe_device=describe_device, event_label=event_label,
        phone=masked_phone(citizen.phone), ended=request.args.get("ended") == "1",
        device_revoked=request.args.get("device_revoked") == "1",
        passkeys=active_passkeys(citizen), max_passkeys=MAX_PASSKEYS,
        passkey_errors=passkey_errors or {}, signatures=signatures_of(citizen),
        passkey_notice=passkey_notice if passkey_notice in PASSKEY_NOTICES else None), status


@blueprint.post("/devices/revoke")
@requires_substantial_session()
def revoke_one_device(login_session: LoginSession):  # type: ignore[no-untyped-def]
    if not revoke_device(login_session.citizen, request.form.get("device")):
        abort(404)
    return redirect(url_for("account.show", device_revoked=1))


@blueprint.post("/sessions/end")
@requires_substantial_session()
def end_one_session(login_session: LoginSession):  # type: ignore[no-untyped-def]
    citizen = login_session.citizen
    chosen = next((s for s in open_sessions(citizen) if s.id == request.form.get("sid")), None)
    if chosen is None:
        abort(404)
    record_event(EventTag.SESSION_ENDED, citizen, this_browser=chosen is login_session)
    if chosen is login_session:
        end_session(login_session)
        return render_template("oidc/logged_out.html")
    close_session(chosen)
    return redirect(url_for("account.show", ended=1))
