"""The demo's OpenID Connect client: Authlib's Flask integration plus the checks an RP owes.

Authlib does the protocol (PKCE, state, nonce, token requests, ID token signature). This
module adds what it leaves to the application: the discovery document must name the issuer
we were configured with, the ``iss`` authorization response parameter must match it
(RFC 9207), the ID token must be addressed to this client, a refreshed ID token must be about
the same citizen (OIDC Core §12.2), and a UserInfo answer must match the ID token's ``sub``
(OIDC Core §5.3.4). Every failure becomes a :class:`ProviderProblem`, rendered as a page.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
from authlib.integrations.flask_client import OAuth, OAuthError
from authlib.integrations.flask_client.apps import FlaskOAuth2App
from flask import Flask, Response, session
from flask_babel import gettext as _
from joserfc.errors import JoseError

from .settings import DemoSettings

# Long enough to spare the IdP, short enough that a restarted IdP's new endpoints are seen.
METADATA_TTL_SECONDS = 3600
# Seconds to wait for the IdP before telling the citizen it is unavailable.
HTTP_TIMEOUT_SECONDS = 10


class ProviderProblem(Exception):
    """Talking to the IdP failed, or its answer cannot be trusted."""

    def __init__(self, status: int, title: str, message: str, detail: str | None = None):
        super().__init__(f"{title}: {message}")
        self.status = status
        self.title = title
        self.message = message
        self.detail = detail


class TokensRefused(ProviderProblem):
    """The token endpoint refused our refresh token: the local login is over."""


@contextmanager
def talking_to_provider(action: str) -> Iterator[None]:
    """Turn the ways an exchange with the IdP can fail into a page the citizen understands."""
    try:
        yield
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise ProviderProblem(
            503,
            _("Identity provider unavailable"),
            _("Cl@ve could not be reached to %(action)s. Please try again in a few minutes.",
              action=action),
            str(exc),
        ) from exc
    except (requests.RequestException, ValueError) as exc:
        raise ProviderProblem(
            502,
            _("Unexpected answer from the identity provider"),
            _("Cl@ve gave an answer this site cannot use when trying to %(action)s.", action=action),
            str(exc),
        ) from exc
    except JoseError as exc:
        raise ProviderProblem(
            502,
            _("ID token rejected"),
            _("The identity token received from Cl@ve failed validation, so you were not logged in."),
            f"{type(exc).__name__}: {exc}",
        ) from exc


def _token_endpoint_error(exc: OAuthError, action: str) -> ProviderProblem:
    detail = f"{exc.error}: {exc.description}" if exc.description else str(exc.error)
    return ProviderProblem(400, _("Login could not be completed"),
                           _("Cl@ve refused to %(action)s.", action=action), detail)


def decode_jwt_payload(token: str) -> dict[str, Any]:
    """The claims of a JWT this app validated when it received it (it lives in a signed cookie)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


class ClaveProvider:
    """The IdP as seen from this RP: known only by its issuer URL and discovery document."""

    def __init__(self, app: Flask, settings: DemoSettings):
        self.settings = settings
        oauth = OAuth(app)
        self.client: FlaskOAuth2App = oauth.register(
            "clave",
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            # Fetched on first use, not here: the IdP may well start after the RP.
            server_metadata_url=settings.discovery_url,
            client_kwargs={
                "scope": settings.scope,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_basic",
                "default_timeout": HTTP_TIMEOUT_SECONDS,
            },
        )

    def metadata(self) -> dict[str, Any]:
        """The discovery document, fetched when first needed and checked against our issuer."""
        cached = self.client.server_metadata
        if cached and time.time() - cached.get("_loaded_at", 0) > METADATA_TTL_SECONDS:
            cached.clear()
        with talking_to_provider(_("read its configuration")):
            metadata = self.client.load_server_metadata()
        if metadata.get("issuer") != self.settings.issuer:
            # OpenID Connect Discovery §4.3: a document naming another issuer must not be used.
            cached.clear()
            raise ProviderProblem(
                502,
                _("Identity provider misconfigured"),
                _("The identity provider's discovery document names a different issuer than the "
                  "one this site is configured to trust."),
                f"expected {self.settings.issuer!r}, got {metadata.get('issuer')!r}",
            )
        return metadata

    def login_redirect(self, acr_values: str, prompt: str | None, ui_locales: str | None
                       ) -> Response:
        """Send the browser to the authorization endpoint (Authlib adds state, nonce and PKCE)."""
        self.metadata()
        extra = {"acr_values": acr_values}
        if prompt:
            extra["prompt"] = prompt
        if ui_locales:
            extra["ui_locales"] = ui_locales
        return self.client.authorize_redirect(self.settings.redirect_uri, **extra)

    def check_response_issuer(self, args: Mapping[str, str], *, required: bool) -> None:
        """RFC 9207: an authorization response naming another issuer is a mix-up attack."""
        iss = args.get("iss")
        if iss is None and not required:
            return
        if iss != self.settings.issuer:
            raise ProviderProblem(
                400,
                _("Login response from an unexpected issuer"),
                _("This login response does not come from the identity provider this site "
                  "trusts, so it was ignored."),
                f"expected iss={self.settings.issuer!r}, got {iss!r}",
            )

    def forget_pending_login(self, state: str | None) -> None:
        if state:
            self.client.framework.clear_state_data(session, state)

    def complete_login(self, args: Mapping[str, str]) -> dict[str, Any]:
        """Exchange the code for tokens; return the bundle the session keeps."""
        metadata = self.metadata()
        self.check_response_issuer(
            args, required=bool(metadata.get("authorization_response_iss_parameter_supported"))
        )
        with talking_to_provider(_("complete the login")):
            try:
                token = self.client.authorize_access_token(claims_options=self._claims_options())
            except OAuthError as exc:
                if exc.error == "mismatching_state":
                    raise ProviderProblem(
                        400,
                        _("Login expired"),
                        _("This login response does not match a login started in this browser, "
                          "or it has already been used. Please log in again."),
                    ) from exc
                raise _token_endpoint_error(exc, _("complete the login")) from exc
        if "userinfo" not in token:
            raise ProviderProblem(502, _("No ID token"), _("Cl@ve answered without an ID token."))
        bundle = _bundle_from_token(token, token["id_token"])
        bundle.update(self.fetch_userinfo(token["access_token"], token["userinfo"]))
        return bundle

    def refresh(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """Use the refresh token; return the bundle with the new (rotated) tokens."""
        refresh_token = bundle.get("refresh_token")
        if not refresh_token:
            raise ProviderProblem(400, _("No refresh token"),
                                  _("Cl@ve did not issue a refresh token for this login."))
        previous = decode_jwt_payload(bundle["id_token"])
        self.metadata()
        with talking_to_provider(_("refresh your tokens")):
            try:
                token = self.client.fetch_access_token(
                    grant_type="refresh_token", refresh_token=refresh_token
                )
            except OAuthError as exc:
                problem = _token_endpoint_error(exc, _("refresh your tokens"))
                raise TokensRefused(400, _("Tokens refused"),
                                    _("%(reason)s Please log in again.", reason=problem.message),
                                    problem.detail) from exc
            id_token = bundle["id_token"]
            if "id_token" in token:
                # The nonce is not checked by Authlib here: a refreshed ID token should carry
                # none, and if it does it must be the original one (checked below).
                claims = self.client.parse_id_token(token, nonce=None,
                                                    claims_options=self._claims_options())
                _check_same_login(previous, claims)
                id_token = token["id_token"]
        refreshed = _bundle_from_token(token, id_token, previous_refresh_token=refresh_token)
        refreshed["refreshed_at"] = int(time.time())
        refreshed.update(self.fetch_userinfo(token["access_token"], decode_jwt_payload(id_token)))
        return refreshed

    def fetch_userinfo(self, access_token: str, id_claims: Mapping[str, Any]) -> dict[str, Any]:
        """UserInfo, stored as only what the ID token does not already say."""
        try:
            with talking_to_provider(_("fetch your details")):
                # A bare bearer token: with an expiry Authlib would refresh it behind our back
                # and the rotated refresh token would be lost.
                userinfo = self.client.userinfo(
                    token={"access_token": access_token, "token_type": "Bearer"}
                )
        except ProviderProblem as problem:
            return {"userinfo": None, "userinfo_error": f"{problem.title}: {problem.detail}"}
        if userinfo.get("sub") != id_claims.get("sub"):
            return {"userinfo": None, "userinfo_error":
                    _("The UserInfo answer is about another subject than the ID token; discarded.")}
        return {"userinfo": _pack_userinfo(dict(userinfo), id_claims), "userinfo_error": None}

    def logout_redirect(self, id_token: str) -> Response:
        """RP-initiated logout; Authlib keeps the random ``state`` for ``/logged-out``."""
        metadata = self.metadata()
        if not metadata.get("end_session_endpoint"):
            raise ProviderProblem(502, _("Logout not supported"),
                                  _("Cl@ve does not advertise an end_session_endpoint."))
        return self.client.logout_redirect(
            post_logout_redirect_uri=self.settings.post_logout_redirect_uri,
            id_token_hint=id_token,
            client_id=self.settings.client_id,
        )

    def check_logout_response(self) -> None:
        try:
            self.client.validate_logout_response()
        except OAuthError as exc:
            raise ProviderProblem(
                400,
                _("Unexpected logout response"),
                _("This logout confirmation does not match a logout started in this browser."),
                exc.description,
            ) from exc

    def _claims_options(self) -> dict[str, Any]:
        # Authlib checks iss but not that aud names us; OIDC Core §3.1.3.7 requires both.
        return {
            "iss": {"essential": True, "values": [self.settings.issuer]},
            "aud": {"essential": True, "values": [self.settings.client_id]},
        }


def userinfo_claims(bundle: Mapping[str, Any]) -> dict[str, Any] | None:
    """The full UserInfo answer, rebuilt from what the session keeps."""
    packed = bundle.get("userinfo")
    if packed is None:
        return None
    id_claims = decode_jwt_payload(bundle["id_token"])
    shared = {name: id_claims[name] for name in packed["shared"] if name in id_claims}
    return {**shared, **packed["own"]}


def _pack_userinfo(userinfo: dict[str, Any], id_claims: Mapping[str, Any]) -> dict[str, Any]:
    # The cookie must stay under 4 KB: values the ID token already holds are kept once.
    shared = [name for name, value in userinfo.items() if id_claims.get(name) == value]
    return {"shared": shared, "own": {k: v for k, v in userinfo.items() if k not in shared}}


def _bundle_from_token(token: Mapping[str, Any], id_token: str,
                       previous_refresh_token: str | None = None) -> dict[str, Any]:
    return {
        "id_token": id_token,
        "access_token": token["access_token"],
        # Refresh tokens rotate; when the IdP sends none, the old one stays valid.
        "refresh_token": token.get("refresh_token", previous_refresh_token),
        "expires_at": token.get("expires_at"),
        "scope": token.get("scope"),
    }


def _check_same_login(previous: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    changed = [name for name in ("iss", "sub") if claims.get(name) != previous.get(name)]
    if "nonce" in claims and claims["nonce"] != previous.get("nonce"):
        changed.append("nonce")
    if changed:
        raise ProviderProblem(502, _("ID token rejected"),
                              _("The refreshed ID token is not about the same login."),
                              "changed claims: " + ", ".join(changed))
