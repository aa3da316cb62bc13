"""Token revocation (RFC 7009). Revoking a refresh token ends its whole family."""

from __future__ import annotations

from authlib.oauth2.rfc7009 import RevocationEndpoint

from idp.audit import EventTag, record_event
from idp.oidc import bearer, server, tokens
from idp.oidc.endpoints import blueprint
from idp.oidc.endpoints.discovery import CLIENT_AUTH_METHODS


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [m.replace("private_key_jwt", "client_assertion_jwt")
                           for m in CLIENT_AUTH_METHODS]

    def query_token(self, token_string: str, token_type_hint: str | None) -> bearer.PresentedToken | None:
        return bearer.presented_token(token_string, token_type_hint)

    def revoke_token(self, token: bearer.PresentedToken, request) -> None:  # type: ignore[no-untyped-def]
        if request.form.get("token_type_hint") == tokens.ACCESS:
            tokens.revoke_one(token.id)
        else:
            tokens.revoke_family(token.family_id)
        record_event(EventTag.TOKEN_REVOKED, tokens.Subject(token.citizen_id), client_id=token.client_id)


@blueprint.post("/revoke")
def revoke():  # type: ignore[no-untyped-def]
    return server().create_endpoint_response(Revocation.ENDPOINT_NAME)
