"""Client authentication at /token, /revoke and /introspect: limited, and audited without
letting a flood write the trail.

Failures count per address (``client_auth.ip``) and per registered client
(``client_auth.client``):

* past an address's limit, its requests are refused with 429 before any secret is
  checked, any key fetched or any row written per request;
* past a client's limit (failures from many addresses) they are still answered
  ``invalid_client`` after the usual check, so the client itself, from its own address,
  is never locked out by others' failures, but they are no longer audited one by one.

Either way the audit keeps one ``client_auth_flooded`` row at the 1st, 10th, 100th…
refusal of the limit's window, with the count so far.

The ``Authorization: Basic`` header is read strictly (``basic_credentials``): Authlib's own
reader raises on values any client can send ("Basic" and a space followed by other white
space, a non-ASCII token, credentials that are not UTF-8), which were 500s; here they are
"no credentials", refused with ``invalid_client`` as a wrong secret is.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import unquote

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError
from flask import current_app
from joserfc import jws
from joserfc.errors import JoseError

from idp import ratelimit, secrets
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.oidc import client_cache
from idp.oidc.models import Client

ACTION = "client_auth"
UNLIMITED = 2**31 - 1  # the aggregation counter only counts


class TooManyFailures(OAuth2Error):
    error = "rate_limited"
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(description="Too many failed client authentications; try again later.")
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


@dataclass
class Attempt:
    endpoint: str
    address: str
    claimed_id: str | None
    query_client: Callable[[str], Client | None]

    @cached_property
    def client(self) -> Client | None:
        """The registered client the request claims to be, if any (read only on failure)."""
        return self.query_client(self.claimed_id) if self.claimed_id else None

    @property
    def client_id(self) -> str | None:
        return self.client.client_id if self.client is not None else None

    def refuse_if_flooding(self) -> None:
        if ratelimit.guard(ACTION, ip=self.address).refuse_if_used_up():
            _aggregate(self, "ip", self.address)
            raise TooManyFailures(retry_after=_window_left("ip"))

    def failed(self) -> None:
        flooded = self.client_id is not None and ratelimit.guard(ACTION, client=self.client_id).used_up
        # Each limit on its own: a client's full limit must not stop the address's count.
        ratelimit.guard(ACTION, ip=self.address).count_failure()
        ratelimit.guard(ACTION, client=self.client_id).count_failure()
        if flooded:
            _aggregate(self, "client", self.client_id)
        elif self.client is not None:
            # A leaked id tried with guessed or old secrets shows in the trail, not only in
            # the RP's logs. Unknown ids are not written: anyone can invent them.
            record_event(EventTag.CLIENT_AUTH_FAILED, client_id=self.client_id, endpoint=self.endpoint)


# A confidential client's ways to prove itself, by their names in Authlib's registry
# (``client_assertion_jwt`` is private_key_jwt); a public client has none.
CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post", "client_assertion_jwt"]


def authenticate(endpoint: str) -> Client:
    """The confidential client that the current Flask request authenticates as, checked as
    at the token endpoint (the same methods, limits and audit): the one door through which
    an API outside the protocol (the signature API) authenticates relying parties. Raises
    Authlib's ``OAuth2Error`` (``invalid_client``, or ``TooManyFailures``)."""
    from flask import request

    from idp.oidc import server

    authorization_server = server()
    return authorization_server.authenticate_client(
        authorization_server.create_oauth2_request(request), CONFIDENTIAL_METHODS, endpoint)


def attempt(request, endpoint: str, query_client: Callable[[str], Client | None]) -> Attempt:  # type: ignore[no-untyped-def]
    return Attempt(endpoint, ratelimit.client_address(), claimed_client_id(request), query_client)


def claimed_client_id(request) -> str | None:  # type: ignore[no-untyped-def]
    """Who the request says it is, before anything is verified: the Basic user name, the
    ``client_id`` field, or the ``sub`` of a client assertion."""
    basic_id, _ = basic_credentials(request.headers.get("Authorization"))
    if basic_id:
        return basic_id
    if request.payload.client_id:
        return request.payload.client_id
    assertion = request.form.get("client_assertion")
    if not isinstance(assertion, str) or not assertion:
        return None
    try:
        claims = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError):
        return None
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) else None


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
    return _with_secret(query_client, client_id, client_secret, status_code=401)


def authenticate_client_secret_post(query_client, request) -> Client | None:  # type: ignore[no-untyped-def]
    """Authlib's ``client_secret_post`` method, with the same check of the secret."""
    client_id, client_secret = request.form.get("client_id"), request.form.get("client_secret")
    if not (client_id and client_secret):
        return None
    return _with_secret(query_client, client_id, client_secret, status_code=400)


def _with_secret(query_client, client_id: str, secret: str, *, status_code: int) -> Client | None:  # type: ignore[no-untyped-def]
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=status_code,
                                 description="The client does not exist on this server.")
    if client.check_client_secret(secret):
        return client
    # This process may keep the client as it was before ``idp client rotate-secret``: the
    # row is read again before a secret counts as wrong, so a new one works at once.
    fresh = client_cache.find_client(client_id, fresh=True)
    return fresh if fresh is not None and fresh.check_client_secret(secret) else None


def _aggregate(attempt: Attempt, subject: str, value: str | None) -> None:
    limit = ratelimit.parse_limits(current_app.config["IDP_RATE_LIMITS"])[f"{ACTION}.{subject}"]
    key = secrets.keyed_hash(f"{ACTION}|flooded|{subject}|{value}", "rate")
    limiter = current_app.extensions["idp.ratelimiter"]
    limiter.reserve([(key, ratelimit.Limit(UNLIMITED, limit.seconds))])
    refused = limiter.count(key, limit.seconds)
    if refused == 10 ** (len(str(refused)) - 1):  # 1, 10, 100, …
        record_event(EventTag.CLIENT_AUTH_FLOODED, client_id=attempt.client_id,
                     endpoint=attempt.endpoint, limit=f"{ACTION}.{subject}", refused=refused)


def _window_left(subject: str) -> int:
    """Counters run in fixed windows (``idp.ratelimit``): the refusal lasts until this one ends."""
    seconds = ratelimit.parse_limits(current_app.config["IDP_RATE_LIMITS"])[f"{ACTION}.{subject}"].seconds
    return seconds - clock.timestamp() % seconds
