"""The OpenID Connect provider: Authlib is wired here and only here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InsecureTransportError, InvalidClientError
from flask import Flask, current_app

from idp import sessions, transport
from idp.extensions import csrf
from idp.models import LoginSession
from idp.oidc import backchannel, client_auth, client_cache, client_keys, grants, tokens
from idp.oidc.keys import KeyStore
from idp.oidc.models import Client
from idp.sms import gateway_from_settings
from idp.unit_of_work import abandon


class ClaveAuthorizationServer(AuthorizationServer):
    def query_client(self, client_id: str) -> Client | None:
        return client_cache.find_client(client_id)

    def save_token(self, token: dict, request) -> None:  # type: ignore[no-untyped-def]
        tokens.save_token(token, request)

    def authenticate_client(self, request, methods, endpoint="token"):  # type: ignore[no-untyped-def]
        """Failures are limited and audited (``client_auth``); past an address's limit the
        request is refused before any secret is checked or key fetched."""
        attempt = client_auth.attempt(request, endpoint, self.query_client)
        attempt.refuse_if_flooding()
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            attempt.failed()
            raise


def server() -> ClaveAuthorizationServer:
    return current_app.extensions["idp.oidc"]


def _sessions_ended(login_sessions: Sequence[LoginSession]) -> None:
    """Sessions ended by an act take their tokens along, and the RPs that asked are told."""
    tokens.revoke_session_tokens([s.id for s in login_sessions])
    backchannel.enqueue(login_sessions)


def init_oidc(app: Flask) -> None:
    from idp.oidc import interaction
    from idp.oidc.endpoints import blueprint, register_endpoints

    config = app.config
    authorization_server = ClaveAuthorizationServer()
    authorization_server.init_app(app)
    authorization_server.register_token_generator("default", tokens.generate_bearer_token)
    authorization_server.register_client_auth_method(
        "client_secret_basic", client_auth.authenticate_client_secret_basic)
    authorization_server.register_client_auth_method(
        "client_secret_post", client_auth.authenticate_client_secret_post)
    authorization_server.register_client_auth_method(
        grants.PrivateKeyJwt.CLIENT_AUTH_METHOD, grants.PrivateKeyJwt())
    openid = grants.ClaveOpenIDCode(require_nonce=False)
    authorization_server.register_grant(
        grants.AuthorizationCodeGrant, [grants.S256CodeChallenge(required=True), openid])
    authorization_server.register_grant(grants.RefreshTokenGrant, [openid])
    register_endpoints(authorization_server)

    app.extensions["idp.oidc"] = authorization_server
    app.extensions["idp.clients"] = client_cache.ClientCache(config["IDP_CLIENT_CACHE_SECONDS"])
    app.extensions["idp.client_keys"] = client_keys.KeyCache()
    app.extensions["idp.backchannel"] = backchannel.Courier(app)
    app.extensions["idp.keys"] = KeyStore(
        Path(config["IDP_KEYS_DIR"]),
        retention=timedelta(seconds=config["IDP_ID_TOKEN_TTL"]),
        passphrase=config["IDP_KEYS_PASSPHRASE"],
    )
    app.extensions["idp.sms"] = gateway_from_settings(
        config["IDP_SMS_BACKEND"],
        http_url=config["IDP_SMS_HTTP_URL"],
        http_token=config["IDP_SMS_HTTP_TOKEN"],
        http_timeout=config["IDP_SMS_HTTP_TIMEOUT"],
    )
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)
    sessions.on_sessions_ended(app, _sessions_ended)
    sessions.keep_across_logins(app, interaction.SESSION_KEY)
    from idp.oidc.endpoints.discovery import PublishedDocuments
    from idp.oidc.endpoints.introspection import IntrospectionFront
    from idp.oidc.endpoints.token import TokenFront
    from idp.oidc.endpoints.userinfo import UserInfoFront

    # Answered before Flask (endpoints/front.py).
    for front in (TokenFront, IntrospectionFront, UserInfoFront):
        app.wsgi_app = front(app, app.wsgi_app)  # type: ignore[method-assign]
    app.wsgi_app = PublishedDocuments(app, app.wsgi_app)  # type: ignore[method-assign]

    @app.errorhandler(InsecureTransportError)
    def _insecure_transport(error: InsecureTransportError):  # type: ignore[no-untyped-def]
        # Authlib refuses plain HTTP to any host but loopback while it reads a request, before
        # the endpoint's own handling of OAuth errors. idp.transport refuses those first; a
        # request that reaches Authlib anyway (a stored one rebuilt from a plain-HTTP issuer)
        # gets the same answer.
        abandon()
        return transport.refusal()
