"""The peer's side of the same scenarios: its client, its endpoints, its login.

Discovery, JWKS, UserInfo and refresh are our scenarios pointed at the peer's endpoints
(read from its discovery document). Its login is the browser flow of its README, made by
the same load generator with the same wire behaviour as ours (a ``requests.Session`` for
the browser part, one short connection per back-channel request):
``GET /auth`` → 303 ``/interaction/{uid}`` → ``GET`` the form → ``POST …/login``
(document, password; the peer verifies argon2id and grants consent in the same request)
→ 303 chain back to the redirect URI with the code → ``POST /token`` → ``GET /me``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import requests

from bench.scenarios import Paths, Target, Unexpected, redeem_and_use
from bench.wire import SmsTail

# As configured in the peer's server_argon2.mjs (its README names them).
CLIENT_ID = "conf-client"
CLIENT_SECRET = "conf-secret-0123456789abcdef0123456789"  # noqa: S105 - the peer's test client
REDIRECT_URI = "http://127.0.0.1:9999/cb"
USER = "12345678Z"
PASSWORD = "Bench-Passw0rd!"  # noqa: S105 - the peer's test citizen
# offline_access with prompt=consent: how the peer is asked for a refresh token.
SCOPE = "openid offline_access profile"
MAX_HOPS = 5

_INTERACTION = re.compile(r"^/interaction/([A-Za-z0-9_-]+)$")


def paths_from(discovery: dict[str, Any]) -> Paths:
    """The back-channel paths a discovery document announces."""
    def path(key: str) -> str:
        if key not in discovery:
            raise Unexpected(f"discovery has no {key}")
        return urlsplit(discovery[key]).path

    return Paths(token=path("token_endpoint"), userinfo=path("userinfo_endpoint"),
                 introspection=path("introspection_endpoint"), redirect_uri=REDIRECT_URI)


def interaction_uid(location: str) -> str | None:
    """The uid of ``/interaction/{uid}`` (where the peer sends the browser to log in)."""
    found = _INTERACTION.match(urlsplit(location).path)
    return found.group(1) if found else None


def reached_client(location: str, redirect_uri: str = REDIRECT_URI) -> bool:
    """Whether a redirect has come back to the client, i.e. ends the browser's part."""
    return location.split("?", 1)[0] == redirect_uri


def target(host: str, port: int, discovery: dict[str, Any]) -> Target:
    """The peer as a target of our scenarios: one citizen, its confidential client, no SMS."""
    return Target(host, port, CLIENT_ID, CLIENT_SECRET, SmsTail(Path("/dev/null")), pool=[],
                  paths=paths_from(discovery))


class PeerLogin:
    """The peer's full login: authorize → its form → password (argon2id) → code → token → UserInfo."""

    name = "login"

    def __init__(self, target: Target) -> None:
        self.target = target

    def prepare(self, thread_index: int) -> None:
        return None

    def run(self, state: None) -> None:
        t = self.target
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
        params = {"response_type": "code", "client_id": t.client_id, "redirect_uri": REDIRECT_URI,
                  "scope": SCOPE, "prompt": "consent", "state": secrets.token_urlsafe(8),
                  "nonce": secrets.token_urlsafe(8), "code_challenge": challenge.decode(),
                  "code_challenge_method": "S256"}
        with requests.Session() as browser:
            go = _redirect(browser.get(f"{t.base}/auth?{urlencode(params)}", timeout=30,
                                       allow_redirects=False), "authorize")
            uid = interaction_uid(go)
            if uid is None:
                raise Unexpected(f"authorize: went to {go[:120]}")
            form = urljoin(t.base, go)
            page = browser.get(form, timeout=30)
            if page.status_code != 200 or "/login" not in page.text:
                raise Unexpected(f"login page: HTTP {page.status_code}")
            location = _redirect(browser.post(f"{form}/login", timeout=30, allow_redirects=False,
                                              data={"document": USER, "password": PASSWORD}), "password")
            for _ in range(MAX_HOPS):
                if reached_client(location):
                    break
                location = _redirect(browser.get(urljoin(t.base, location), timeout=30,
                                                 allow_redirects=False), "resume")
            else:
                raise Unexpected(f"no code after {MAX_HOPS} redirects: {location[:120]}")
        redeem_and_use(t, location, verifier)


def _redirect(response: requests.Response, step: str) -> str:
    if response.status_code not in (302, 303):
        raise Unexpected(f"{step}: HTTP {response.status_code} {response.text[:120]!r}")
    return response.headers["Location"]
