"""Registering relying parties (operator act)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from idp import outbound, secrets
from idp.assurance import ACR_LEVELS
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.oidc.claims import SCOPES
from idp.oidc.client_keys import UnusableKeys, parse_key_set
from idp.oidc.models import CLIENT_SECRET, Client


class ClientError(ValueError):
    pass


@dataclass(frozen=True)
class RegisteredClient:
    client: Client
    secret: str | None


def _check_uri(uri: str, what: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ClientError(f"{what} must be an absolute http(s) URI without fragment: {uri}")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ClientError(f"{what} must use https outside localhost: {uri}")
    return uri


def _check_called_uri(uri: str, field: str) -> str:
    """A URI the IdP itself will call (``idp.outbound``): https on public addresses only.
    Checked again at every use, since a name may resolve elsewhere later."""
    try:
        outbound.check_uri(uri, allow_loopback=current_app.config["IDP_DEV_LOOPBACK_CLIENT_URIS"])
    except outbound.OutboundError as refused:
        raise ClientError(f"{field} {refused}: {uri}") from refused
    return uri


def register_client(*, name: str, redirect_uris: tuple[str, ...] | list[str],
                    post_logout_redirect_uris: tuple[str, ...] | list[str] = (),
                    scope: str = "openid", auth_method: str = "client_secret_basic",
                    jwks_uri: str | None = None, jwks: dict[str, Any] | None = None,
                    default_acr: str | None = None, subject_type: str = "pairwise",
                    id_token_alg: str | None = None, backchannel_logout_uri: str | None = None,
                    client_id: str | None = None) -> RegisteredClient:
    scopes = scope.split()
    if "openid" not in scopes or not set(scopes) <= set(SCOPES):
        raise ClientError(f"scope must include openid and only: {' '.join(SCOPES)}")
    if default_acr and default_acr not in ACR_LEVELS:
        raise ClientError(f"default acr must be one of {', '.join(ACR_LEVELS)}")
    if auth_method == "private_key_jwt" and not (jwks or jwks_uri):
        raise ClientError("private_key_jwt needs --jwks-uri or --jwks-file")
    if jwks is not None:
        try:
            parse_key_set(jwks)
        except UnusableKeys as error:
            raise ClientError(f"jwks: {error}") from error
    if jwks_uri is not None:
        _check_called_uri(jwks_uri, "jwks_uri")
    if backchannel_logout_uri is not None:
        _check_called_uri(backchannel_logout_uri, "backchannel_logout_uri")
    metadata: dict[str, Any] = {
        "redirect_uris": [_check_uri(u, "redirect URI") for u in redirect_uris],
        "post_logout_redirect_uris": [_check_uri(u, "post-logout redirect URI")
                                      for u in post_logout_redirect_uris],
        "scope": " ".join(scopes),
        "token_endpoint_auth_method": auth_method,
        "subject_type": subject_type,
    }
    if not metadata["redirect_uris"]:
        raise ClientError("at least one redirect URI is needed")
    hosts = {urlsplit(u).netloc for u in metadata["redirect_uris"]}
    if subject_type == "pairwise" and len(hosts) > 1:
        raise ClientError("pairwise clients need all redirect URIs on one host (one sector)")
    optional = {"jwks_uri": jwks_uri, "jwks": jwks, "default_acr": default_acr,
                "id_token_signed_response_alg": id_token_alg,
                "backchannel_logout_uri": backchannel_logout_uri}
    metadata.update({k: v for k, v in optional.items() if v})
    secret = None if auth_method in ("none", "private_key_jwt") else secrets.random_token()
    client = Client(client_id=client_id or secrets.random_token(18), name=name,
                    client_secret_hash=secrets.keyed_hash(secret, CLIENT_SECRET) if secret else None,
                    client_metadata=metadata)
    db.session.add(client)
    record_event(EventTag.CLIENT_REGISTERED, client_id=client.client_id)
    return RegisteredClient(client, secret)


def set_redirect_uris(client: Client, redirect_uris: list[str],
                      post_logout_redirect_uris: list[str]) -> bool:
    """Register other redirect URIs for ``client`` (checked as at registration); whether
    they changed. Its pairwise sector, the host of the first redirect URI, moves with them."""
    wanted = {"redirect_uris": [_check_uri(u, "redirect URI") for u in redirect_uris],
              "post_logout_redirect_uris": [_check_uri(u, "post-logout redirect URI")
                                            for u in post_logout_redirect_uris]}
    if all(client.client_metadata.get(key) == value for key, value in wanted.items()):
        return False
    client.client_metadata = {**client.client_metadata, **wanted}
    record_event(EventTag.CLIENT_UPDATED, client_id=client.client_id, **wanted)
    return True


def _registered(client_id: str) -> Client:
    client = db.session.scalar(db.select(Client).filter_by(client_id=client_id))
    if client is None:
        raise ClientError(f"no client is registered as {client_id}")
    return client


def set_disabled(client_id: str, disabled: bool) -> Client:
    """A disabled client is refused by every endpoint, and so are the tokens it holds,
    until it is enabled again; each process sees the change within
    ``IDP_CLIENT_CACHE_SECONDS`` (an enabled client at once: ``idp.oidc.client_cache``)."""
    client = _registered(client_id)
    if disabled and client.disabled_at is None:
        client.disabled_at = clock.now()
    elif not disabled:
        client.disabled_at = None
    record_event(EventTag.CLIENT_DISABLED if disabled else EventTag.CLIENT_ENABLED,
                 client_id=client_id)
    return client


def rotate_secret(client_id: str) -> RegisteredClient:
    """A new secret, shown once and accepted at once; the old one stops working within
    ``IDP_CLIENT_CACHE_SECONDS``."""
    client = _registered(client_id)
    if client.auth_method not in ("client_secret_basic", "client_secret_post"):
        raise ClientError(f"{client_id} authenticates with {client.auth_method}: it has no secret")
    secret = secrets.random_token()
    client.client_secret_hash = secrets.keyed_hash(secret, CLIENT_SECRET)
    record_event(EventTag.CLIENT_SECRET_ROTATED, client_id=client_id)
    return RegisteredClient(client, secret)
