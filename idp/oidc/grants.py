"""Our grants and extensions: only the methods Authlib leaves open are written here."""

from __future__ import annotations

from datetime import timedelta

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError, InvalidScopeError, grants
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode
from flask import current_app, render_template
from joserfc.errors import JoseError
from sqlalchemy import insert

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen
from idp.oidc import client_keys, tokens
from idp.oidc.id_token import AuthContext, issue_id_token
from idp.oidc.models import AuthorizationCode, Client, use_jti_once
from idp.unit_of_work import abandon

ALL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "client_assertion_jwt", "none"]


def deliver(redirect_uri: str, params: list[tuple[str, str]], response_mode: str):
    """Send an authorization response (success or error) back to the client.

    Every response carries ``iss`` (RFC 9207). ``form_post`` renders an auto-submitting
    form whose script is a separate file, so the CSP needs no inline script.
    """
    from authlib.common.urls import add_params_to_uri

    params = [*params, ("iss", current_app.config["IDP_ISSUER"])]
    if response_mode == "form_post":
        body = render_template("oidc/form_post.html", action=redirect_uri, params=params)
        return 200, body, [("Content-Type", "text/html; charset=utf-8"),
                           ("Cache-Control", "no-store")]
    return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]


_INSERT_CODE = insert(AuthorizationCode.__table__)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def create_authorization_response(self, redirect_uri: str, grant_user: Citizen):
        self.request.user = grant_user
        code = secrets.random_token()
        self.save_authorization_code(code, self.request)
        params = [("code", code)]
        if self.request.payload.state:
            params.append(("state", self.request.payload.state))
        return deliver(redirect_uri, params, self.request.payload.data.get("response_mode", "query"))

    def save_authorization_code(self, code: str, request) -> None:  # type: ignore[no-untyped-def]
        context: AuthContext = request.auth_context
        data = request.payload.data
        now = clock.now()
        # A Core statement: the ORM's unit of work took about four times as long.
        db.session.execute(_INSERT_CODE, dict(
            code_hash=secrets.keyed_hash(code, tokens.CODE),
            client_id=request.client.client_id,
            citizen_id=request.user.id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            auth_time=context.auth_time,
            acr=context.acr,
            amr=context.amr,
            sid=context.sid,
            claims_request=context.claims_request,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            created_at=now,
            expires_at=now + timedelta(seconds=current_app.config["IDP_CODE_TTL"]),
        ))

    def query_authorization_code(self, code: str, client: Client) -> tokens.Redeemed | None:
        """Claim the code atomically; a second redemption revokes what the first issued."""
        redeemed = tokens.claim_code(code, client_id=client.client_id)
        if redeemed is not None:
            self.request.auth_context = redeemed.context
        return redeemed

    def delete_authorization_code(self, authorization_code: tokens.Redeemed) -> None:
        """Kept (marked used) so a replay can be recognised and its tokens revoked."""

    def authenticate_user(self, authorization_code: tokens.Redeemed) -> tokens.Subject:
        return tokens.Subject(authorization_code.citizen_id)  # active: the claim checked


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> tokens.Claimed | None:
        # The client is checked before the token is claimed: another client presenting it
        # must not use it up (the owner's next refresh would then look like a replay).
        token = tokens.claim_refresh_token(refresh_token, client_id=self.request.client.client_id)
        if token is not None:
            asked = self.request.payload.scope
            if asked and not set(scope_to_list(token.scope)).issuperset(scope_to_list(asked)):
                # Authlib checks the scope after the claim: a refusal must not use the token up
                # (the client's next refresh would look like a replay and revoke its family).
                abandon()
                raise InvalidScopeError()
            self.request.auth_context = token.context
        return token

    def authenticate_user(self, refresh_token: tokens.Claimed) -> tokens.Subject:
        return tokens.Subject(refresh_token.citizen_id)  # active: the claim checked

    def revoke_old_credential(self, refresh_token: tokens.Claimed) -> None:
        """Already done: ``tokens.claim_refresh_token`` revoked it when it claimed it."""


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only (``plain`` protects nothing); required for public clients."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):  # type: ignore[no-untyped-def]
        data = grant.request.payload.data
        if grant.request.client.is_public and not data.get("code_challenge"):
            raise InvalidRequestError("PKCE (code_challenge with S256) is required.")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class ClaveOpenIDCode(OpenIDCode):
    """ID tokens for the code and refresh grants.

    Prompt handling is not registered here: the authorization endpoint decides
    login, step-up and consent with its own ordered checks (``interaction``).
    """

    def __call__(self, grant) -> None:  # type: ignore[no-untyped-def]
        grant.register_hook("after_create_token_response", self.process_token)

    def exists_nonce(self, nonce: str, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def encode_id_token(self, token: dict, request) -> str:  # type: ignore[no-untyped-def]
        code = request.authorization_code
        return issue_id_token(
            request.client, request.user.id, request.auth_context,
            access_token=token.get("access_token"), nonce=code.nonce if code else None)


class PrivateKeyJwt(JWTBearerClientAssertion):
    """``private_key_jwt``: assertions signed by a key from the client's registered JWKS.

    Authlib turns the JOSE errors of signature and claims checks into ``invalid_client``
    but not those of reading the header or keys; anything wrong with an assertion is the
    client's error, never ours, so every one of them is ``invalid_client`` here.
    """

    def __call__(self, query_client, request):  # type: ignore[no-untyped-def]
        try:
            return super().__call__(query_client, request)
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise InvalidClientError(description="Invalid client assertion.") from error

    def get_audiences(self) -> list[str]:
        issuer = current_app.config["IDP_ISSUER"]
        return [issuer, f"{issuer}/token"]

    def resolve_client_public_key(self, client: Client):  # type: ignore[no-untyped-def]
        # Checked before any key is looked for: a client registered for another method
        # costs no fetch, and its assertion fails as plainly as a wrong signature.
        if not client.check_endpoint_auth_method(self.CLIENT_AUTH_METHOD, "token"):
            raise InvalidClientError(description="The client is not registered for private_key_jwt.")
        return client_keys.resolver(client)

    def validate_jti(self, claims, jti: str) -> bool:  # type: ignore[no-untyped-def]
        return use_jti_once(secrets.keyed_hash(f"{claims['sub']}|{jti}", "jti"),
                            clock.now() + timedelta(hours=1))
