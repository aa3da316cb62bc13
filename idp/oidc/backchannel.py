"""OpenID Connect Back-Channel Logout 1.0: tell relying parties a session has ended.

Each RP that registered a ``backchannel_logout_uri`` and received tokens in the ended
session gets a signed ``logout_token`` (with ``sid`` and ``sub``) by direct POST, never
while the citizen waits: ending a session writes one outbox row per RP to tell
(``backchannel_logouts``) in the same transaction, and once that commits the ``Courier``
thread of this process sends what is due. A failed delivery is tried again after a growing
pause, ``MAX_ATTEMPTS`` times in all, by the next pass of any process or by ``idp purge``;
its final outcome (delivered, or given up) is audited once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

from flask import Flask, current_app
from joserfc import jwt
from sqlalchemy import delete, event, update
from sqlalchemy.orm import Session

from idp import outbound, secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen, LoginSession
from idp.oidc.id_token import sid_for, subject_for
from idp.oidc.models import BackchannelLogout, Client, Token
from idp.unit_of_work import transaction

log = logging.getLogger("idp.backchannel")
EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_ATTEMPTS = 5
# The pause after the 1st, 2nd, 3rd and 4th failed attempt: about two hours in all.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(minutes=90))
# A taken row is not due again before the attempt is long over (or its process died).
LEASE = timedelta(minutes=2)
MAX_REPLY_BYTES = 4096
_WAKE = "idp.backchannel.wake"


def logout_token(client: Client, sid: str, citizen: Citizen) -> str:
    alg = client.id_token_signed_response_alg or current_app.config["IDP_SIGNING_ALG"]
    key = current_app.extensions["idp.keys"].signing_key(alg)
    now = clock.timestamp()
    claims = {"iss": current_app.config["IDP_ISSUER"], "aud": client.client_id, "iat": now,
              "exp": now + 120, "jti": secrets.random_token(16), "events": {EVENT: {}},
              "sid": sid_for(client.client_id, sid), "sub": subject_for(client, citizen.id)}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key, algorithms=[alg])


def clients_of(login_session: LoginSession) -> list[Client]:
    """The RPs that received tokens in this session and asked to hear of its end."""
    client_ids = db.session.scalars(db.select(Token.client_id).filter_by(sid=login_session.id).distinct())
    clients = db.session.scalars(db.select(Client).where(Client.client_id.in_(list(client_ids))))
    return [c for c in clients if c.client_metadata.get("backchannel_logout_uri")]


def enqueue(login_sessions: Sequence[LoginSession]) -> None:
    """Write what to tell whom, in the caller's transaction; sent once that commits."""
    for login_session in login_sessions:
        for client in clients_of(login_session):
            db.session.add(BackchannelLogout(
                client_id=client.client_id, sid=login_session.id,
                citizen_id=login_session.citizen_id, next_attempt_at=clock.now()))
            db.session.info[_WAKE] = True


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(_WAKE, False):
        current_app.extensions["idp.backchannel"].wake()


@event.listens_for(Session, "after_soft_rollback")
def _nothing_to_send(session: Session, _transaction) -> None:  # type: ignore[no-untyped-def]
    session.info.pop(_WAKE, None)


def deliver_due() -> int:
    """One pass: try every delivery that is due; how many arrived. Each step below is a
    unit of work of its own: no transaction stays open while an RP answers."""
    delivered = 0
    while True:
        with transaction():
            due = db.session.scalars(
                db.select(BackchannelLogout.id).where(BackchannelLogout.next_attempt_at <= clock.now())
                .order_by(BackchannelLogout.next_attempt_at).limit(50)).all()
        if not due:
            return delivered
        delivered += sum(_attempt(row_id) for row_id in due)


def _attempt(row_id: int) -> bool:
    now = clock.now()
    with transaction():
        taken = db.session.execute(
            update(BackchannelLogout)
            .where(BackchannelLogout.id == row_id, BackchannelLogout.next_attempt_at <= now)
            .values(next_attempt_at=now + LEASE, attempts=BackchannelLogout.attempts + 1)).rowcount
    if taken != 1:
        return False  # another pass, here or in another process, has it
    with transaction():
        row = db.session.get(BackchannelLogout, row_id)
        assert row is not None
        client_id, citizen, attempts = row.client_id, row.citizen, row.attempts
        client = db.session.scalar(db.select(Client).filter_by(client_id=client_id))
        uri = client.client_metadata.get("backchannel_logout_uri") if client else None
        token = logout_token(client, row.sid, citizen) if client and uri else None
    delivered = uri is not None and token is not None and _post(uri, token)
    with transaction():
        if delivered or attempts >= MAX_ATTEMPTS:
            db.session.execute(delete(BackchannelLogout).where(BackchannelLogout.id == row_id))
            record_event(EventTag.BACKCHANNEL_LOGOUT, citizen, client_id=client_id,
                         delivered=delivered, attempts=attempts)
        else:
            db.session.execute(update(BackchannelLogout).where(BackchannelLogout.id == row_id)
                               .values(next_attempt_at=clock.now() + BACKOFF[attempts - 1]))
    return delivered


def _post(uri: str, token: str) -> bool:
    try:
        reply = outbound.post_form(uri, {"logout_token": token}, max_bytes=MAX_REPLY_BYTES,
                                   allow_loopback=current_app.config["IDP_DEV_LOOPBACK_CLIENT_URIS"])
    except outbound.OutboundError as error:
        log.warning("back-channel logout not delivered: %s", error)
        return False
    if reply.status not in (200, 204):
        log.warning("back-channel logout refused with HTTP %s", reply.status)
    return reply.status in (200, 204)


class Courier:
    """This process's delivery thread: started when woken, it runs passes until nothing
    new was asked for, then ends (a retry waits for a later pass or ``idp purge``)."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._asked = False

    def wake(self) -> None:
        with self._lock:
            self._asked = True
            if self._thread is None or not self._thread.is_alive():  # none, or lost in a fork
                self._thread = threading.Thread(target=self._run, name="idp-backchannel", daemon=True)
                self._thread.start()

    def wait_until_idle(self, timeout: float = 30) -> bool:
        """True once no pass runs or is asked for (tests wait on it, as on an event)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return True
            thread.join(max(deadline - time.monotonic(), 0))
            if thread.is_alive():
                return False

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._asked:
                    self._thread = None
                    return
                self._asked = False
            try:
                with self._app.app_context():
                    deliver_due()
            except Exception:  # a thread's failure is logged, and the rows wait for the next pass
                log.exception("back-channel delivery pass failed")
