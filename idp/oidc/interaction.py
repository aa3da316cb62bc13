"""The protocol's one front door for the citizen flows: what a pending authorization
request still needs from the citizen, and how the flows hand it back.

The protocol side asks for an *interaction* (login, step-up, consent) and redirects to the
page the flows registered for it (``register_pages``); the flows ``load`` the pending
request, do their work and call ``resume`` (or ``deny``). No flow imports anything else of
``idp.oidc``. The decision is an ordered table of small named checks.

A page a flow registers as shown at once answers the authorization request itself when that
request needs it first (the login page, as most requests do): the browser is spared a
redirect and a request, and a reload only asks again for what a link to the RP asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AccessDeniedError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oidc.core.errors import ConsentRequiredError, InteractionRequiredError, LoginRequiredError
from flask import Flask, current_app, g, redirect, render_template, session, url_for
from sqlalchemy import bindparam, delete, insert, inspect, select
from werkzeug.datastructures import MultiDict

from idp import flow_state, secrets
from idp.assurance import ACR_LEVELS, ACR_LOW, acr_rank
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db, in_session
from idp.models import Citizen, Consent, FlowState, LoginSession
from idp.oidc import claims as claim_rules
from idp.oidc import server
from idp.oidc.client_cache import find_client
from idp.oidc.grants import deliver
from idp.oidc.id_token import AuthContext
from idp.oidc.models import AuthorizationRequest, Client
from idp.sessions import current_session
from idp.web import locale_from_tags

# The browser's pending requests, in its session cookie (kept across a login: sessions).
SESSION_KEY = "interactions"
MAX_PENDING = 5
_PAGES = "idp.interaction_pages"
_AT_ONCE = "idp.interaction_pages_at_once"
_ANSWERED = "idp_answered_requests"  # in g: the requests this unit of work answered
# A flow names the pending request it serves (the login's SMS step, its expired password):
# read with the flow state, the request costs that step no statement of its own, nor does
# the consent its citizen gave that request's client, which the step that resumes the
# request asks about.
flow_state.load_along(AuthorizationRequest, on=AuthorizationRequest.id == FlowState.pending_request_id)
flow_state.load_along(Consent, on=(Consent.citizen_id == FlowState.citizen_id)
                      & (Consent.client_id == AuthorizationRequest.client_id))
PROMPT_ERRORS = {"login_required": LoginRequiredError, "consent_required": ConsentRequiredError,
                 "interaction_required": InteractionRequiredError}


ShowPage = Callable[["Pending"], Any]


@dataclass(frozen=True)
class Interaction:
    kind: str  # "login" | "step_up" | "consent"
    error: str  # what prompt=none answers instead


@dataclass
class Pending:
    request: AuthorizationRequest
    client: Client
    login_session: LoginSession | None
    # Logged in by this request's flow just now (answers prompt=login and max_age); kept in
    # the stored request only if the citizen goes on to another page (consent).
    just_authenticated: bool = False

    @property
    def params(self) -> dict[str, str]:
        return self.request.params

    @property
    def prompts(self) -> set[str]:
        return set(self.params.get("prompt", "").split())

    @property
    def claims_request(self) -> dict:
        """The ``claims`` parameter, limited to the scopes the client is registered for."""
        return claim_rules.limit_claims_request(
            claim_rules.parse_claims_request(self.params.get("claims")), self.client.scopes)

    @property
    def required_acr(self) -> str:
        return required_acr(self.params, self.client)

    @property
    def requested_claims(self) -> list[str]:
        # Only what can be released: a consent never covers data the client cannot receive,
        # so widening the client's registration later asks the citizen again.
        scope = self.client.get_allowed_scope(self.params.get("scope", ""))
        return claim_rules.requested_claims(scope, self.claims_request)

    @property
    def freshly_authenticated(self) -> bool:
        return self.login_session is not None and (
            self.just_authenticated or self.request.authenticated_sid == self.login_session.id)

    def logged_in(self, login_session: LoginSession) -> Pending:
        """This request as it stands once ``login_session`` has just logged in for it."""
        return Pending(self.request, self.client, login_session, just_authenticated=True)


def claim_values(citizen: Citizen) -> dict[str, Any]:
    """What each claim would say of ``citizen``: the values the consent page shows."""
    return claim_rules.claim_values(citizen)


def required_acr(params: dict[str, str], client: Client) -> str:
    """The first supported ``acr_values`` entry, never below the client's registered level.

    The registered default acts as a floor: the request travels through the citizen's
    browser, so anyone could edit ``acr_values=low`` into it and skip the SMS step.
    """
    floor = client.default_acr or ACR_LOW
    asked = params.get("acr_values", "").split()
    asked += claim_rules.requested_acr(claim_rules.parse_claims_request(params.get("claims")))
    chosen = next((acr for acr in asked if acr in ACR_LEVELS), floor)
    return max(chosen, floor, key=acr_rank)


def _no_session(p: Pending) -> Interaction | None:
    return Interaction("login", "login_required") if p.login_session is None else None


def _prompt_login(p: Pending) -> Interaction | None:
    if "login" in p.prompts and not p.freshly_authenticated:
        return Interaction("login", "login_required")
    return None


def _max_age(p: Pending) -> Interaction | None:
    max_age = p.params.get("max_age")
    if max_age is None or p.freshly_authenticated:
        return None
    assert p.login_session is not None
    if clock.timestamp() - p.login_session.auth_time > int(max_age):
        return Interaction("login", "login_required")
    return None


def _acr(p: Pending) -> Interaction | None:
    assert p.login_session is not None
    if acr_rank(p.login_session.acr) < acr_rank(p.required_acr):
        return Interaction("step_up", "interaction_required")
    return None


def _consent(p: Pending) -> Interaction | None:
    if p.request.consented:
        return None
    if "consent" in p.prompts:
        return Interaction("consent", "consent_required")
    assert p.login_session is not None
    given = _consented_claims(p.login_session.citizen_id, p.client.client_id)
    if given is None or not set(p.requested_claims) <= set(given):
        return Interaction("consent", "consent_required")
    return None


def _consented_claims(citizen_id: int, client_id: str) -> list[str] | None:
    """The claims the citizen consented to release to the client: read along with this
    request's flow state when there is one (``flow_state.load_along``), else read now."""
    for row in db.session.identity_map.values():
        if isinstance(row, Consent) and row.citizen_id == citizen_id and row.client_id == client_id:
            return row.claims
    with db.session.no_autoflush:  # a request answered at once need never be written
        return db.session.execute(_CONSENT, {"citizen": citizen_id, "client": client_id}).scalar()


# On the table: the ORM's object building cost as much again as the statement.
_CONSENT = select(Consent.__table__.c.claims).where(Consent.__table__.c.citizen_id == bindparam("citizen"),
                                                    Consent.__table__.c.client_id == bindparam("client"))


CHECKS: list[Callable[[Pending], Interaction | None]] = [_no_session, _prompt_login, _max_age, _acr,
                                                         _consent]


def needed(pending: Pending) -> Interaction | None:
    for check in CHECKS:
        outcome = check(pending)
        if outcome is not None:
            return outcome
    return None


# -- the front door ---------------------------------------------------------------------

def register_pages(app: Flask, *, shown_at_once: Mapping[str, ShowPage] | None = None,
                   **endpoints: str) -> None:
    """The pages that answer each interaction (``login``, ``step_up``, ``consent``): the
    flows name their own endpoints, so that the protocol holds none of their names.

    ``shown_at_once``: per interaction, the view that shows its page for a pending request
    without a redirect, used when the authorization request itself needs that interaction.
    Only a page that a GET shows may be: the authorization request may be reloaded."""
    app.extensions.setdefault(_PAGES, {}).update(endpoints)
    app.extensions.setdefault(_AT_ONCE, {}).update(shown_at_once or {})


def load(request_id: str | None) -> Pending | None:
    """The pending request of this browser with that id, if it is still there."""
    if not request_id or request_id not in session.get(SESSION_KEY, []):
        return None
    auth_request = _stored_request(request_id)
    if auth_request is None or auth_request.expires_at <= clock.now():
        return None
    client = find_client(auth_request.client_id)  # per process, for a short while
    if client is None:  # disabled meanwhile
        return None
    return _pending(auth_request, client)


def _stored_request(request_id: str) -> AuthorizationRequest | None:
    """The stored request: the one read along with this request's flow state, else read by
    a statement built once (``Session.get`` builds its statement on every call, which cost
    as much as the rest of the read)."""
    found = in_session(AuthorizationRequest, request_id)
    if found is not None:
        return found
    return db.session.scalar(_READ_REQUEST, {"request_id": request_id})


def resume(pending: Pending):  # type: ignore[no-untyped-def]
    """Continue a stored request: ask for the next interaction, or finish with a code."""
    missing = needed(pending)
    if missing is None:
        return _issue_code(pending)
    if "none" in pending.prompts:
        _forget(pending)
        error = PROMPT_ERRORS[missing.error](redirect_uri=pending.params["redirect_uri"])
        return error_response(error, pending.params)
    if pending.just_authenticated:
        pending.request.authenticated_sid = pending.login_session.id  # type: ignore[union-attr]
    if inspect(pending.request).transient:  # stored just now: written only to wait for the citizen
        # A Core statement: the ORM's unit of work took about four times as long.
        db.session.execute(_INSERT_REQUEST, {column: getattr(pending.request, column)
                                             for column in _REQUEST_COLUMNS})
        show = current_app.extensions[_AT_ONCE].get(missing.kind)
        if show is not None:  # the authorization request's own answer: no redirect to it
            return show(pending)
    endpoint = current_app.extensions[_PAGES][missing.kind]
    return redirect(url_for(endpoint, ir=pending.request.id))


def deny(pending: Pending):  # type: ignore[no-untyped-def]
    """The citizen said no: the RP gets ``access_denied``."""
    _forget(pending)
    return error_response(AccessDeniedError(redirect_uri=pending.params["redirect_uri"]),
                          pending.params)


# -- the protocol's side -------------------------------------------------------------------

def store(client: Client, params: dict[str, str]) -> Pending:
    """A new pending request of this browser: written only when ``resume`` sends the citizen
    to a page (a request answered at once, by single sign-on, never is)."""
    now = clock.now()
    auth_request = AuthorizationRequest(
        id=secrets.random_token(24), client_id=client.client_id, params=params, consented=False,
        created_at=now, expires_at=now + timedelta(seconds=current_app.config["IDP_INTERACTION_TTL"]))
    # Bound to this browser: a link to someone else's pending request is worthless.
    session[SESSION_KEY] = [*session.get(SESSION_KEY, [])[-(MAX_PENDING - 1):], auth_request.id]
    return _pending(auth_request, client)


def _pending(auth_request: AuthorizationRequest, client: Client) -> Pending:
    # The RP's ui_locales, kept by the language cookie since /authorize: here for a browser
    # that refuses the cookie (idp.web.select_locale).
    g.pending_locale = locale_from_tags(auth_request.params.get("ui_locales"))
    return Pending(auth_request, client, current_session())


def answered(pending: Pending) -> bool:
    """Whether this unit of work answered the request (a code, or an error for the RP): its
    row is deleted, and the flow states that served it with it."""
    return pending.request.id in g.get(_ANSWERED, ())


def _forget(pending: Pending) -> None:
    session[SESSION_KEY] = [i for i in session.get(SESSION_KEY, []) if i != pending.request.id]
    if inspect(pending.request).transient:
        return  # answered at once (single sign-on): never written
    # A Core statement: the ORM's unit of work took about three times as long.
    db.session.execute(_DELETE_REQUEST, {"request_id": pending.request.id})
    g.setdefault(_ANSWERED, set()).add(pending.request.id)
    db.session.expunge(pending.request)


_READ_REQUEST = select(AuthorizationRequest).where(AuthorizationRequest.id == bindparam("request_id"))
_INSERT_REQUEST = insert(AuthorizationRequest.__table__)
_REQUEST_COLUMNS = ("id", "client_id", "params", "authenticated_sid", "consented", "created_at",
                    "expires_at")
_DELETE_REQUEST = delete(AuthorizationRequest.__table__).where(
    AuthorizationRequest.__table__.c.id == bindparam("request_id"))


def error_response(error: OAuth2Error, params: dict[str, str]):  # type: ignore[no-untyped-def]
    """An error for the RP, at its redirect URI once that is known to be registered; on an
    IdP page until then."""
    if not error.redirect_uri:
        return render_template("oidc/error.html", error=error, status=400), 400
    reply = [("error", error.error)]
    if error.description:
        reply.append(("error_description", error.description))
    if params.get("state"):
        reply.append(("state", params["state"]))
    mode = "form_post" if params.get("response_mode") == "form_post" else "query"
    return server().handle_response(*deliver(error.redirect_uri, reply, mode))


def _issue_code(pending: Pending):  # type: ignore[no-untyped-def]
    login_session = pending.login_session
    assert login_session is not None
    oauth_request = _stored_oauth2_request(pending)
    oauth_request.auth_context = AuthContext(
        acr=login_session.acr, amr=list(login_session.amr), auth_time=login_session.auth_time,
        sid=login_session.id, claims_request=pending.claims_request)
    authorization_server = server()
    grant = authorization_server.get_authorization_grant(oauth_request)
    response = authorization_server.create_authorization_response(
        request=oauth_request, grant_user=login_session.citizen, grant=grant)
    record_event(EventTag.CODE_ISSUED, login_session.citizen, client_id=pending.client.client_id)
    _forget(pending)
    return response


def _stored_oauth2_request(pending: Pending) -> OAuth2Request:
    """An Authlib request rebuilt from the stored parameters, to finish the grant later."""
    issuer = current_app.config["IDP_ISSUER"]
    oauth_request = _StoredRequest("GET", f"{issuer}/authorize")
    oauth_request.payload = BasicOAuth2Payload(dict(pending.params))
    return oauth_request


class _StoredRequest(OAuth2Request):
    @property
    def args(self) -> MultiDict:
        return MultiDict(self.payload.data)

    @property
    def form(self) -> MultiDict:
        return MultiDict()
