"""Single sign-on sessions: created after the last factor, ended by logout, by a password
change (the citizen's ``session_epoch`` moves on), after ``IDP_SESSION_TTL`` whatever
happens, or after ``IDP_SESSION_IDLE_TIMEOUT`` without use (a computer left logged in).

A session ended by an act (logout, the account page, a password change or reset,
unsubscribing, another citizen's login) takes the tokens issued in it along: the protocol
registers what happens then (``on_sessions_ended``), in the transaction that ends them. One
that timed out does not: the citizen may still be at the relying party, whose refresh token
keeps its own lifetime (``IDP_REFRESH_TOKEN_TTL``) until the RP or a logout ends it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from flask import Flask, current_app, g, request, session
from sqlalchemy import insert, update
from sqlalchemy.orm.attributes import set_committed_value

from idp import secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, CitizenStatus, LoginSession
from idp.unit_of_work import CommitReason, after_commit

SESSION_TOKEN = "session_token"  # noqa: S105 - a session key name, not a secret
_PURPOSE = "login_session"
# A session's last use is written at most once a minute: precise enough for an idle timeout
# counted in minutes, without a write on every request.
TOUCH_INTERVAL = timedelta(seconds=60)
_ENDED_HOOKS = "idp.sessions.ended_hooks"
_KEPT_KEYS = "idp.sessions.kept_keys"


def on_sessions_ended(app: Flask, hook: Callable[[Sequence[LoginSession]], None]) -> None:
    """Call ``hook`` with the sessions an act has just ended, in the same transaction,
    once their rows are written (the protocol revokes their tokens and tells the RPs)."""
    app.extensions.setdefault(_ENDED_HOOKS, []).append(hook)


def keep_across_logins(app: Flask, key: str) -> None:
    """A key of the cookie session that belongs to the browser, not to the login (the
    pending authorization requests): a fresh login keeps it, and drops everything else."""
    app.extensions.setdefault(_KEPT_KEYS, set()).add(key)


def _ended(login_sessions: Sequence[LoginSession]) -> None:
    if login_sessions:
        for hook in current_app.extensions.get(_ENDED_HOOKS, ()):
            hook(login_sessions)


def start_session(citizen: Citizen, *, acr: str, amr: list[str]) -> LoginSession:
    """A fresh login gets a fresh cookie secret: the old cookie contents are dropped. The
    same citizen logging in again (step-up, ``prompt=login``, ``max_age``) goes on in the
    same session, so the ``sid`` relying parties hold still names it and a logout still ends
    the tokens issued before; another citizen's session on this browser ends first, as by
    a logout."""
    previous = current_session()
    if previous is not None and not is_valid(previous):
        previous = None  # ended earlier in this request (an expired password was changed)
    if previous is not None and previous.citizen_id != citizen.id:
        record_event(EventTag.SESSION_ENDED, previous.citizen, another_login=True)
        close_session(previous)
        previous = None
    kept = {key: session[key] for key in current_app.extensions.get(_KEPT_KEYS, ()) if key in session}
    session.clear()
    session.update(kept)
    token = secrets.random_token()
    now = clock.now()
    login_session = previous or LoginSession(id=secrets.random_token(16), citizen_id=citizen.id,
                                             citizen=citizen, created_at=now)
    login_session.token_hash = secrets.keyed_hash(token, _PURPOSE)
    login_session.acr, login_session.amr, login_session.auth_time = acr, amr, clock.timestamp()
    login_session.epoch = citizen.session_epoch
    login_session.expires_at = now + timedelta(seconds=current_app.config["IDP_SESSION_TTL"])
    login_session.last_seen_at = now
    login_session.ip = request.remote_addr
    login_session.user_agent = (request.user_agent.string or "")[:256]
    if previous is None:
        # A Core statement (the ORM's unit of work took four times as long to write the row);
        # the object stays out of the ORM session, read by the rest of this request only.
        db.session.execute(_INSERT, {column: getattr(login_session, column) for column in _COLUMNS})
    session[SESSION_TOKEN] = token
    # A browser-session cookie: closing the browser (a library or office computer) ends the
    # login there; the server ends it after IDP_SESSION_TTL whatever the browser keeps.
    session.permanent = False
    g.login_session = login_session
    return login_session


_INSERT = insert(LoginSession.__table__)
_COLUMNS = ("id", "token_hash", "citizen_id", "acr", "amr", "auth_time", "epoch", "created_at",
            "last_seen_at", "expires_at", "ip", "user_agent")


def current_session() -> LoginSession | None:
    if "login_session" in g:
        return g.login_session
    login_session = browser_session()
    if login_session is not None and is_valid(login_session):
        _touch(login_session)
    else:
        login_session = None
    g.login_session = login_session
    return login_session


def browser_session() -> LoginSession | None:
    """The session this browser's cookie names, unless it has ended, even if it timed out:
    logging out ends it all the same, with the tokens relying parties got in it."""
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str):
        return None
    return db.session.scalar(db.select(LoginSession).filter_by(
        token_hash=secrets.keyed_hash(token, _PURPOSE), ended_at=None))


def _touch(login_session: LoginSession) -> None:
    """The browser came back with this session: note it once the request's work is
    committed, in a short transaction of its own, so that no request holds the session's
    row (where a logout and the token endpoint meet) for its whole length."""
    now = clock.now()
    if now - login_session.last_seen_at < TOUCH_INTERVAL:
        return
    set_committed_value(login_session, "last_seen_at", now)
    session_id = login_session.id
    after_commit(CommitReason.SESSION_TOUCH, lambda: db.session.execute(
        update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now)))


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
    """End one session wherever its browser is (logout, "end this session" on the account
    page, another citizen's login on its browser), with what ending it entails
    (``on_sessions_ended``: its tokens revoked, relying parties told), in one transaction."""
    # The session's row is written before its tokens: a token endpoint saving new tokens of
    # this session holds that row meanwhile and is either waited for or refused
    # (idp.oidc.tokens), and takes it before any token of the session, as this does.
    ended = db.session.execute(
        update(LoginSession).where(LoginSession.id == login_session.id, LoginSession.ended_at.is_(None))
        .values(ended_at=clock.now())
    ).rowcount
    if ended:
        _ended([login_session])


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
    _ended(open_sessions)


def end_other_sessions(citizen: Citizen) -> None:
    """After a new password: this browser stays logged in if it was, as this citizen."""
    current = current_session()
    end_all_sessions(citizen, keep=current if current and current.citizen_id == citizen.id
                     else None)
