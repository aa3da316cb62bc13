"""Single sign-on sessions: created after the last factor, ended by logout, by a password
change (the citizen's ``session_epoch`` moves on), after ``IDP_SESSION_TTL`` whatever
happens, or after ``IDP_SESSION_IDLE_TIMEOUT`` without use (a computer left logged in)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, g, request, session
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, CitizenStatus, LoginSession
from idp.oidc import backchannel
from idp.oidc.tokens import revoke_session_tokens

SESSION_TOKEN = "session_token"  # noqa: S105 - a session key name, not a secret
_PURPOSE = "login_session"
# A session's last use is written at most once a minute: precise enough for an idle timeout
# counted in minutes, without a write on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


def start_session(citizen: Citizen, *, acr: str, amr: list[str]) -> LoginSession:
    """A fresh session id for a fresh login: the old cookie contents are dropped. The caller
    commits."""
    previous = current_session()
    if previous is not None:
        previous.ended_at = clock.now()
    kept = {key: session[key] for key in ("interactions",) if key in session}
    session.clear()
    session.update(kept)
    token = secrets.random_token()
    login_session = LoginSession(
        id=secrets.random_token(16),
        token_hash=secrets.keyed_hash(token, _PURPOSE),
        citizen_id=citizen.id,
        acr=acr,
        amr=amr,
        auth_time=clock.timestamp(),
        epoch=citizen.session_epoch,
        expires_at=clock.now() + timedelta(seconds=current_app.config["IDP_SESSION_TTL"]),
        ip=request.remote_addr,
        user_agent=(request.user_agent.string or "")[:256],
    )
    db.session.add(login_session)  # the caller commits, with what the login decided
    session[SESSION_TOKEN] = token
    # A browser-session cookie: closing the browser (a library or office computer) ends the
    # login there; the server ends it after IDP_SESSION_TTL whatever the browser keeps.
    session.permanent = False
    g.login_session = login_session
    return login_session


def current_session() -> LoginSession | None:
    if "login_session" in g:
        return g.login_session
    token = session.get(SESSION_TOKEN)
    login_session = None
    if isinstance(token, str):
        candidate = db.session.scalar(
            db.select(LoginSession).filter_by(token_hash=secrets.keyed_hash(token, _PURPOSE))
        )
        if candidate is not None and is_valid(candidate):
            login_session = candidate
            _touch(login_session)
    g.login_session = login_session
    return login_session


def _touch(login_session: LoginSession) -> None:
    """The browser came back with this session: note it (in its own short transaction, so
    that nothing else this request has pending is committed with it)."""
    now = clock.now()
    if now - login_session.last_seen_at < TOUCH_INTERVAL:
        return
    with db.engine.begin() as connection:
        connection.execute(update(LoginSession).where(LoginSession.id == login_session.id)
                           .values(last_seen_at=now))
    set_committed_value(login_session, "last_seen_at", now)


def is_valid(login_session: LoginSession) -> bool:
    citizen = login_session.citizen
    return (
        login_session.ended_at is None
        and login_session.expires_at > clock.now()
        and login_session.last_seen_at > idle_since()
        and citizen.status == CitizenStatus.ACTIVE
        and not citizen.password_blocked
        and login_session.epoch == citizen.session_epoch
    )


def idle_since() -> datetime:
    """Sessions not used since this moment have timed out."""
    return clock.now() - timedelta(seconds=current_app.config["IDP_SESSION_IDLE_TIMEOUT"])


def close_session(login_session: LoginSession) -> None:
    """End one session wherever its browser is (logout, or "end this session" on the
    account page); relying parties that asked are told by back-channel, after the commit."""
    if login_session.ended_at is None:
        login_session.ended_at = clock.now()
        backchannel.enqueue([login_session])
        db.session.commit()


def end_session(login_session: LoginSession | None) -> None:
    """Log this browser out."""
    if login_session is not None:
        close_session(login_session)
    session.pop(SESSION_TOKEN, None)
    g.login_session = None


def end_all_sessions(citizen: Citizen, *, keep: LoginSession | None = None) -> None:
    """Every session of this citizen but ``keep`` is over (password change, reset,
    unsubscribe), and the tokens issued in them are revoked: whoever held the old
    password, or a browser left logged in somewhere, loses access at once."""
    open_sessions = [s for s in db.session.scalars(db.select(LoginSession).filter_by(
        citizen_id=citizen.id, ended_at=None)) if keep is None or s.id != keep.id]
    citizen.session_epoch += 1
    if keep is not None:
        keep.epoch = citizen.session_epoch
    db.session.execute(
        update(LoginSession)
        .where(LoginSession.id.in_([s.id for s in open_sessions]), LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    )
    revoke_session_tokens([s.id for s in open_sessions])
    backchannel.enqueue(open_sessions)
    db.session.commit()


def end_other_sessions(citizen: Citizen) -> None:
    """After a new password: this browser stays logged in if it was, as this citizen."""
    current = current_session()
    end_all_sessions(citizen, keep=current if current and current.citizen_id == citizen.id
                     else None)
