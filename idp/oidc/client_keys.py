"""The public keys a ``private_key_jwt`` client signs its assertions with: registered inline,
or fetched from its ``jwks_uri`` (through ``idp.outbound``) and kept by this process.

Anyone may POST an assertion naming any client, so a request must not mean a fetch: a
fetched key set is kept ``CACHE_SECONDS``; an assertion naming a key the set lacks (the RP
rotated its keys, or someone forged it) and a failed fetch lead to a new fetch at most once
every ``REFETCH_SECONDS``. Symmetric (``oct``) keys are dropped: a key published in a JWKS
is public, and an HMAC made with it would prove nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from flask import current_app
from joserfc.jwk import GuestProtocol, KeySet

from idp import outbound
from idp.clock import clock
from idp.oidc.models import Client

CACHE_SECONDS = 300
REFETCH_SECONDS = 30
MAX_JWKS_BYTES = 64 * 1024


class UnusableKeys(ValueError):
    """Not a key set, or one without a single usable public key."""


def parse_key_set(data: Any) -> KeySet:
    """The asymmetric public keys of a JWKS document."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise UnusableKeys("a JWKS is an object with a list of keys")
    try:
        keys = KeySet.import_key_set({"keys": data["keys"]})
    except Exception as error:  # joserfc raises many kinds on malformed keys; all mean this
        raise UnusableKeys(f"a key cannot be read: {error.__class__.__name__}") from error
    public = [key for key in keys.keys if key.key_type != "oct"]
    if not public:
        raise UnusableKeys("no RSA, EC or OKP key")
    return KeySet(public)


@dataclass(frozen=True)
class _Fetched:
    uri: str
    at: int
    keys: KeySet | None  # None: the fetch failed

    def kids(self) -> set[str | None]:
        return {key.kid for key in self.keys.keys} if self.keys else set()


class KeyCache:
    """Key sets fetched by this process, one fetch at a time per client."""

    def __init__(self) -> None:
        self._fetched: dict[str, _Fetched] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def key_set(self, client: Client, kid: str | None) -> KeySet:
        uri = client.client_metadata["jwks_uri"]
        if not self._stale(client.client_id, uri, kid):
            return self._usable(client.client_id)
        with self._guard:
            lock = self._locks.setdefault(client.client_id, threading.Lock())
        with lock:  # the requests that waited use what the first one fetched
            if self._stale(client.client_id, uri, kid):
                self._fetched[client.client_id] = _Fetched(uri, clock.timestamp(), _fetch(uri))
        return self._usable(client.client_id)

    def _stale(self, client_id: str, uri: str, kid: str | None) -> bool:
        fetched = self._fetched.get(client_id)
        if fetched is None or fetched.uri != uri:
            return True
        age = clock.timestamp() - fetched.at
        wanted = fetched.keys is None or (kid is not None and kid not in fetched.kids())
        return age >= CACHE_SECONDS or (wanted and age >= REFETCH_SECONDS)

    def _usable(self, client_id: str) -> KeySet:
        keys = self._fetched[client_id].keys
        if keys is None:
            raise InvalidClientError(description="The client's jwks_uri could not be read.")
        return keys


def _fetch(uri: str) -> KeySet | None:
    try:
        reply = outbound.get(uri, allow_loopback=current_app.config["IDP_DEV_LOOPBACK_CLIENT_URIS"],
                             max_bytes=MAX_JWKS_BYTES)
        if reply.status != 200:
            return None
        return parse_key_set(json.loads(reply.body))
    except (outbound.OutboundError, ValueError):
        current_app.logger.warning("jwks_uri %s could not be used", uri)
        return None


def resolver(client: Client) -> Callable[[GuestProtocol], KeySet]:
    """For joserfc: the client's keys, looked up with the ``kid`` the assertion names."""

    def resolve(token: GuestProtocol) -> KeySet:
        metadata = client.client_metadata
        if metadata.get("jwks"):
            try:
                return parse_key_set(metadata["jwks"])
            except UnusableKeys as error:
                raise InvalidClientError(description="The client's registered keys are unusable.") from error
        if not metadata.get("jwks_uri"):
            raise InvalidClientError(description="The client has no registered keys.")
        kid = token.headers().get("kid")
        cache: KeyCache = current_app.extensions["idp.client_keys"]
        return cache.key_set(client, kid if isinstance(kid, str) else None)

    return resolve
