"""UserInfo: GET or POST, token in the Authorization header or the form body (RFC 6750 §2.2)."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from flask import request

from idp.models import Citizen
from idp.oidc import claims as claim_rules
from idp.oidc import server, tokens
from idp.oidc.endpoints import blueprint
from idp.oidc.id_token import subject_for
from idp.oidc.models import Token


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> Token | None:
        token = tokens.find_token(token_string, tokens.ACCESS)
        if token is not None and not token.citizen.is_active:
            return None
        return token


class BodyOrHeaderProtector(ResourceProtector):
    def parse_request_authorization(self, request_):  # type: ignore[no-untyped-def]
        body_token = request.form.get("access_token") if request.method == "POST" else None
        if body_token and not request.headers.get("Authorization"):
            return self.get_token_validator("bearer"), body_token
        return super().parse_request_authorization(request_)


class ClaveUserInfo(UserInfoEndpoint):
    def generate_user_info(self, user: Citizen, scope: str) -> UserInfo:
        token: Token = current_token._get_current_object()  # type: ignore[attr-defined]
        names = claim_rules.requested_claims(scope, {"userinfo": token.claims_request.get("userinfo", {})})
        info = {"sub": subject_for(token.get_client(), user)}
        info.update(claim_rules.release(user, names))
        return UserInfo(info)


def userinfo_endpoint() -> ClaveUserInfo:
    protector = BodyOrHeaderProtector()
    protector.register_token_validator(AccessTokenValidator())
    return ClaveUserInfo(resource_protector=protector)


@blueprint.route("/userinfo", methods=["GET", "POST"])
def userinfo():  # type: ignore[no-untyped-def]
    response = server().create_endpoint_response(ClaveUserInfo.ENDPOINT_NAME)
    response.headers["Cache-Control"] = "no-store"
    return response
