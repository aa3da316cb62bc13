"""Token revocation (RFC 7009). Revoking a refresh token ends its whole family."""

from __future__ import annotations

from authlib.oauth2.rfc7009 import RevocationEndpoint

from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.oidc import server, tokens
from idp.oidc.endpoints import blueprint
from idp.oidc.endpoints.discovery import CLIENT_AUTH_METHODS
from idp.oidc.models import Token


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [m.replace("private_key_jwt", "client_assertion_jwt")
                           for m in CLIENT_AUTH_METHODS]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return tokens.find_token(token_string, token_type_hint)

    def revoke_token(self, token: Token, request) -> None:  # type: ignore[no-untyped-def]
        token.revoked_at = clock.now()
        if request.form.get("token_type_hint") != "access_token":
            tokens.revoke_family(token.family_id)
        record_event(EventTag.TOKEN_REVOKED, token.citizen, client_id=token.client_id)


@blueprint.post("/revoke")
def revoke():  # type: ignore[no-untyped-def]
    return server().create_endpoint_response(Revocation.ENDPOINT_NAME)
