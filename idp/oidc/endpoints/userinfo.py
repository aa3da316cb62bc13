"""UserInfo: GET or POST, token in the Authorization header or the form body (RFC 6750 §2.2)."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from flask import request

from idp.oidc import bearer, server, tokens
from idp.oidc import claims as claim_rules
from idp.oidc.endpoints import blueprint
from idp.oidc.id_token import subject_for


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> bearer.ActiveToken | None:
        return bearer.token_in_force(token_string, tokens.ACCESS)


class BodyOrHeaderProtector(ResourceProtector):
    def parse_request_authorization(self, request_):  # type: ignore[no-untyped-def]
        body_token = request.form.get("access_token") if request.method == "POST" else None
        if body_token and not request.headers.get("Authorization"):
            return self.get_token_validator("bearer"), body_token
        return super().parse_request_authorization(request_)


class ClaveUserInfo(UserInfoEndpoint):
    def generate_user_info(self, user: bearer.CitizenClaims, scope: str) -> UserInfo:
        token: bearer.ActiveToken = current_token._get_current_object()  # type: ignore[attr-defined]
        names = claim_rules.requested_claims(scope, {"userinfo": token.claims_request.get("userinfo", {})})
        info = {"sub": subject_for(token.client, user.id)}
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
