"""What a pending authorization request still needs from the citizen.

The protocol side asks for an *interaction* (login, step-up, consent); the citizen flows
answer it and call ``resume``. The decision is an ordered table of small named checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import current_app, g, redirect, session, url_for
from werkzeug.datastructures import MultiDict

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.models import Consent, LoginSession
from idp.oidc import claims as claim_rules
from idp.oidc.client_cache import find_client
from idp.oidc.models import AuthorizationRequest, Client
from idp.sessions import current_session
from idp.web import locale_from_tags

SESSION_KEY = "interactions"
MAX_PENDING = 5


@dataclass(frozen=True)
class Interaction:
    kind: str  # "login" | "step_up" | "consent"
    error: str  # what prompt=none answers instead


@dataclass
class Pending:
    request: AuthorizationRequest
    client: Client
    login_session: LoginSession | None

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
        return self.login_session is not None and self.request.authenticated_sid == self.login_session.id


def required_acr(params: dict[str, str], client: Client) -> str:
    """The first supported ``acr_values`` entry, never below the client's registered level.

    The registered default acts as a floor: the request travels through the citizen's
    browser, so anyone could edit ``acr_values=low`` into it and skip the SMS step.
    """
    floor = client.default_acr or claim_rules.ACR_LOW
    asked = params.get("acr_values", "").split()
    asked += claim_rules.requested_acr(claim_rules.parse_claims_request(params.get("claims")))
    chosen = next((acr for acr in asked if acr in claim_rules.ACR_LEVELS), floor)
    return max(chosen, floor, key=claim_rules.acr_rank)


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
    if claim_rules.acr_rank(p.login_session.acr) < claim_rules.acr_rank(p.required_acr):
        return Interaction("step_up", "interaction_required")
    return None


def _consent(p: Pending) -> Interaction | None:
    if p.request.consented:
        return None
    if "consent" in p.prompts:
        return Interaction("consent", "consent_required")
    assert p.login_session is not None
    given = db.session.scalar(db.select(Consent).filter_by(
        citizen_id=p.login_session.citizen_id, client_id=p.client.client_id))
    if given is None or not set(p.requested_claims) <= set(given.claims):
        return Interaction("consent", "consent_required")
    return None


CHECKS: list[Callable[[Pending], Interaction | None]] = [_no_session, _prompt_login, _max_age, _acr,
                                                         _consent]


def needed(pending: Pending) -> Interaction | None:
    for check in CHECKS:
        outcome = check(pending)
        if outcome is not None:
            return outcome
    return None


# -- storing and finding pending requests ----------------------------------------------

def store(client: Client, params: dict[str, str]) -> AuthorizationRequest:
    auth_request = AuthorizationRequest(
        id=secrets.random_token(24), client_id=client.client_id, params=params,
        expires_at=clock.now() + timedelta(seconds=current_app.config["IDP_INTERACTION_TTL"]))
    db.session.add(auth_request)
    db.session.commit()
    # Bound to this browser: a link to someone else's pending request is worthless.
    session[SESSION_KEY] = [*session.get(SESSION_KEY, [])[-(MAX_PENDING - 1):], auth_request.id]
    return auth_request


def load(request_id: str | None) -> Pending | None:
    if not request_id or request_id not in session.get(SESSION_KEY, []):
        return None
    auth_request = db.session.get(AuthorizationRequest, request_id)
    if auth_request is None or auth_request.expires_at <= clock.now():
        return None
    client = find_client(auth_request.client_id)
    if client is None:  # disabled meanwhile
        return None
    # The RP's ui_locales choose the language of every page of this interaction.
    g.ui_locale = g.get("ui_locale") or locale_from_tags(auth_request.params.get("ui_locales"))
    return Pending(auth_request, client, current_session())


def forget(pending: Pending) -> None:
    session[SESSION_KEY] = [i for i in session.get(SESSION_KEY, []) if i != pending.request.id]
    db.session.delete(pending.request)
    db.session.commit()


def stored_oauth2_request(pending: Pending) -> OAuth2Request:
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


INTERACTION_ENDPOINTS = {"login": "login.start", "step_up": "login.start", "consent": "consent.show"}


def redirect_to(interaction: Interaction, pending: Pending):  # type: ignore[no-untyped-def]
    return redirect(url_for(INTERACTION_ENDPOINTS[interaction.kind], ir=pending.request.id))
