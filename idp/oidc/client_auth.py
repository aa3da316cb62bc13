"""HTTP Basic client authentication (RFC 6749 §2.3.1), read strictly.

Authlib's reader of the header raises on values any client can send ("Basic" and a
space followed by other white space, a non-ASCII token, credentials that are not UTF-8):
500s at the token, introspection and revocation endpoints. This reader answers "no
credentials" instead, and the client is refused with ``invalid_client`` as for a wrong secret.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote

from authlib.oauth2.rfc6749 import InvalidClientError

from idp.oidc.models import Client


def basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    """(client_id, client_secret) of an ``Authorization: Basic`` value, each form-decoded;
    the secret is None without a colon; (None, None) for anything that is not Basic."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(token.strip(" "), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 once decoded
        return None, None
    client_id, colon, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret) if colon else None


def authenticate_client_secret_basic(query_client, request) -> Client | None:  # type: ignore[no-untyped-def]
    """Authlib's ``client_secret_basic`` method, with the reader above."""
    client_id, client_secret = basic_credentials(request.headers.get("Authorization"))
    if not (client_id and client_secret):
        return None
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="The client does not exist on this server.")
    return client if client.check_client_secret(client_secret) else None
