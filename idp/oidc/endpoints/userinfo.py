"""UserInfo: GET or POST, token in the Authorization header or the form body (RFC 6750 §2.2).

``UserInfoFront`` answers it in front of Flask (``front``), the token read by one Core
statement on a connection of the engine, as the route below would (the same Authlib
parsing, validator and errors, the same claims, headers and bytes:
``tests/oidc/test_userinfo_front.py`` holds the two side by side); what it does not take
goes on to the route.
"""

from __future__ import annotations

from typing import Any

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2 import ResourceProtector as PlainResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from flask import Flask, request

from idp.connections import statement_by_statement
from idp.extensions import db
from idp.oidc import bearer, server, tokens
from idp.oidc import claims as claim_rules
from idp.oidc.endpoints import blueprint
from idp.oidc.endpoints.front import Answer, Front, WsgiApp
from idp.oidc.id_token import subject_for

PATH = "/userinfo"
SCOPES = ["openid"]


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> bearer.ActiveToken | None:
        return bearer.token_in_force(token_string, tokens.ACCESS)


class BodyOrHeaderProtector(ResourceProtector):
    def parse_request_authorization(self, request_):  # type: ignore[no-untyped-def]
        body_token = request.form.get("access_token") if request.method == "POST" else None
        if body_token and not request.headers.get("Authorization"):
            return self.get_token_validator("bearer"), body_token
        return super().parse_request_authorization(request_)


def user_info(token: bearer.ActiveToken) -> UserInfo:
    """The claims of the token's scopes and of its ``claims`` request for UserInfo."""
    names = claim_rules.requested_claims(token.scope, {"userinfo": token.claims_request.get("userinfo", {})})
    info = {"sub": subject_for(token.client, token.citizen.id)}
    info.update(claim_rules.release(token.citizen, names))
    return UserInfo(info)


class ClaveUserInfo(UserInfoEndpoint):
    def generate_user_info(self, user: bearer.CitizenClaims, scope: str) -> UserInfo:
        return user_info(current_token._get_current_object())  # type: ignore[attr-defined]


def userinfo_endpoint() -> ClaveUserInfo:
    protector = BodyOrHeaderProtector()
    protector.register_token_validator(AccessTokenValidator())
    return ClaveUserInfo(resource_protector=protector)


@blueprint.route(PATH, methods=["GET", "POST"])
def userinfo():  # type: ignore[no-untyped-def]
    response = server().create_endpoint_response(ClaveUserInfo.ENDPOINT_NAME)
    response.headers["Cache-Control"] = "no-store"
    return response


class _Presented:
    """What Authlib's ``ResourceProtector`` reads of a request: its Authorization header."""

    def __init__(self, authorization: str | None) -> None:
        self.headers = {"Authorization": authorization} if authorization else {}


class UserInfoFront(Front):
    """``GET``, ``HEAD`` and ``POST /userinfo`` answered before Flask sees the request."""

    path = PATH
    methods = ("GET", "HEAD", "POST")

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        super().__init__(app, inner, route=f"{blueprint.name}.{userinfo.__name__}")
        self.protector = PlainResourceProtector()
        self.protector.register_token_validator(BearerTokenValidator())

    def answer(self, environ: dict[str, Any]) -> Answer:
        authorization = environ.get("HTTP_AUTHORIZATION")
        posted = environ["REQUEST_METHOD"] == "POST"
        body_token = self.small_form(environ).get("access_token") if posted else None
        try:
            if body_token and not authorization:
                validator, value = self.protector.get_token_validator("bearer"), body_token
            else:
                validator, value = self.protector.parse_request_authorization(_Presented(authorization))
            with statement_by_statement(db.engine) as connection:
                token = bearer.token_in_force(value, tokens.ACCESS, connection)
            validator.validate_token(token, SCOPES, None)
        except OAuth2Error as error:
            status, payload, headers = error()
            return self.json(status, headers, payload)
        return self.json(200, default_json_headers[:], user_info(token))
