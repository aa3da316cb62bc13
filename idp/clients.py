"""Registering relying parties (operator act)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


def _checked_scope(scope: str) -> str:
    scopes = scope.split()
    if "openid" not in scopes or not set(scopes) <= set(SCOPES):
        raise ClientError(f"scope must include openid and only: {' '.join(SCOPES)}")
    return " ".join(scopes)


def _checked_acr(default_acr: str | None) -> str | None:
    if default_acr and default_acr not in ACR_LEVELS:
        raise ClientError(f"default acr must be one of {', '.join(ACR_LEVELS)}")
    return default_acr


def _checked_redirect_uris(redirect_uris: tuple[str, ...] | list[str], subject_type: str) -> list[str]:
    checked = [_check_uri(u, "redirect URI") for u in redirect_uris]
    if not checked:
        raise ClientError("at least one redirect URI is needed")
    if subject_type == "pairwise" and len({urlsplit(u).netloc for u in checked}) > 1:
        raise ClientError("pairwise clients need all redirect URIs on one host (one sector)")
    return checked


def _checked_logout_uris(uris: tuple[str, ...] | list[str]) -> list[str]:
    return [_check_uri(u, "post-logout redirect URI") for u in uris]


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise ClientError("name must be 1 to 200 printable characters")
    return name


def _new_client_id() -> str:
    """A random id that does not begin with "-", which ``idp client show ID`` would read as
    an option (one id in 64 would)."""
    while (candidate := secrets.random_token(18)).startswith("-"):
        pass
    return candidate


def register_client(*, name: str, redirect_uris: tuple[str, ...] | list[str],
                    post_logout_redirect_uris: tuple[str, ...] | list[str] = (),
                    scope: str = "openid", auth_method: str = "client_secret_basic",
                    jwks_uri: str | None = None, jwks: dict[str, Any] | None = None,
                    default_acr: str | None = None, subject_type: str = "pairwise",
                    id_token_alg: str | None = None, backchannel_logout_uri: str | None = None,
                    client_id: str | None = None, signature: bool = False) -> RegisteredClient:
    scope = _checked_scope(scope)
    _checked_acr(default_acr)
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
        "redirect_uris": _checked_redirect_uris(redirect_uris, subject_type),
        "post_logout_redirect_uris": _checked_logout_uris(post_logout_redirect_uris),
        "scope": scope,
        "token_endpoint_auth_method": auth_method,
        "subject_type": subject_type,
    }
    optional = {"jwks_uri": jwks_uri, "jwks": jwks, "default_acr": default_acr,
                "id_token_signed_response_alg": id_token_alg,
                "backchannel_logout_uri": backchannel_logout_uri}
    metadata.update({k: v for k, v in optional.items() if v})
    secret = None if auth_method in ("none", "private_key_jwt") else secrets.random_token()
    client = Client(client_id=client_id or _new_client_id(), name=_checked_name(name),
                    client_secret_hash=secrets.keyed_hash(secret, CLIENT_SECRET) if secret else None,
                    client_metadata=metadata, signature_enabled=signature)
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


def registered(client_id: str) -> Client:
    """The client registered as ``client_id``, disabled or not."""
    client = db.session.scalar(db.select(Client).filter_by(client_id=client_id))
    if client is None:
        raise ClientError(f"no client is registered as {client_id}")
    return client


def set_disabled(client_id: str, disabled: bool) -> Client:
    """A disabled client is refused by every endpoint, and so are the tokens it holds,
    until it is enabled again; each process sees the change within
    ``IDP_CLIENT_CACHE_SECONDS`` (an enabled client at once: ``idp.oidc.client_cache``)."""
    client = registered(client_id)
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
    client = registered(client_id)
    if client.auth_method not in ("client_secret_basic", "client_secret_post"):
        raise ClientError(f"{client_id} authenticates with {client.auth_method}: it has no secret")
    secret = secrets.random_token()
    client.client_secret_hash = secrets.keyed_hash(secret, CLIENT_SECRET)
    record_event(EventTag.CLIENT_SECRET_ROTATED, client_id=client_id)
    return RegisteredClient(client, secret)


def registered_clients() -> list[Client]:
    """Every relying party, oldest first."""
    return list(db.session.scalars(db.select(Client).order_by(Client.id)))


def describe(client: Client) -> dict[str, Any]:
    """What an operator may read of a registration: everything but the secret (whether
    there is one, and the kids of an inline key set)."""
    metadata = client.client_metadata
    return {
        "client_id": client.client_id,
        "name": client.name,
        "disabled": client.disabled_at is not None,
        "disabled_at": _iso(client.disabled_at),
        "created_at": _iso(client.created_at),
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": metadata.get("post_logout_redirect_uris", []),
        "scope": " ".join(client.scopes),
        "default_acr": client.default_acr,
        "token_endpoint_auth_method": client.auth_method,
        "has_secret": client.client_secret_hash is not None,
        "subject_type": client.subject_type,
        "sector": client.sector_identifier if client.subject_type == "pairwise" else None,
        "id_token_signed_response_alg": client.id_token_signed_response_alg,
        "jwks_uri": metadata.get("jwks_uri"),
        "jwks_kids": [key.get("kid") for key in (metadata.get("jwks") or {}).get("keys", [])],
        "backchannel_logout_uri": metadata.get("backchannel_logout_uri"),
        "signature": client.signature_enabled,
    }


def _new_value(client: Client, metadata: dict[str, Any], key: str) -> Any:
    if key == "name":
        return client.name
    if key == "signature":
        return client.signature_enabled
    return metadata.get(key)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment is not None else None


_UNSET: Any = object()


def update_client(client_id: str, *, name: str | None = None,
                  redirect_uris: tuple[str, ...] | list[str] | None = None,
                  post_logout_redirect_uris: tuple[str, ...] | list[str] | None = None,
                  scope: str | None = None, default_acr: str | None = _UNSET,
                  signature: bool | None = None) -> list[str]:
    """Change what is given (checked as at registration; ``default_acr=None`` removes it):
    the names of the fields changed, audited in one event with their new values. A
    pairwise client keeps its sector when its redirect URIs move to another host, so
    every citizen keeps the ``sub`` the RP knows. Each process sees the change within
    ``IDP_CLIENT_CACHE_SECONDS``."""
    client = registered(client_id)
    metadata = dict(client.client_metadata)
    wanted: dict[str, Any] = {}
    if redirect_uris is not None:
        wanted["redirect_uris"] = _checked_redirect_uris(redirect_uris, client.subject_type)
    if post_logout_redirect_uris is not None:
        wanted["post_logout_redirect_uris"] = _checked_logout_uris(post_logout_redirect_uris)
    if scope is not None:
        wanted["scope"] = _checked_scope(scope)
    if default_acr is not _UNSET:
        wanted["default_acr"] = _checked_acr(default_acr)
    changed = [key for key, value in wanted.items() if metadata.get(key) != value]
    if name is not None and _checked_name(name) != client.name:
        client.name = _checked_name(name)
        changed.append("name")
    if signature is not None and signature != client.signature_enabled:
        client.signature_enabled = signature
        changed.append("signature")
    if not changed:
        return []
    if ("redirect_uris" in changed and client.subject_type == "pairwise"
            and not metadata.get("sector_identifier")
            and urlsplit(wanted["redirect_uris"][0]).netloc != client.sector_identifier):
        metadata["sector_identifier"] = client.sector_identifier
    metadata.update({key: value for key, value in wanted.items() if key in changed})
    if metadata.get("default_acr") is None:
        metadata.pop("default_acr", None)
    client.client_metadata = metadata
    record_event(EventTag.CLIENT_UPDATED, client_id=client_id,
                 **{key: _new_value(client, metadata, key) for key in changed})
    return changed
