"""What the load generator does, one operation at a time, against a running deployment."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from bench.deploy import REDIRECT_URI
from bench.seed import PASSWORD, PoolCitizen
from bench.wire import SmsTail, build_request, send
from idp_mobile.device import PROOF_HEADER, DeviceKey

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_IR = re.compile(r'name="ir" value="([^"]*)"')
_CHALLENGE = re.compile(r'data-challenge="([^"]+)"\s+data-status-url="([^"]+)"')
_CODE = re.compile(r'class="verification-code"[^>]*>(\d+)<')  # typed in the app
SCOPE = "openid profile"
MOBILE_API = "/api/mobile/v1"


class Unexpected(Exception):
    pass


@dataclass(frozen=True)
class Paths:
    """Where a server answers the back channel (ours; the peer's come from its discovery)."""

    token: str = "/token"  # noqa: S105 - a path
    userinfo: str = "/userinfo"
    introspection: str = "/introspect"
    redirect_uri: str = REDIRECT_URI


@dataclass
class Target:
    """The deployment under load and what the scenarios share."""

    host: str
    port: int
    client_id: str
    client_secret: str
    sms: SmsTail
    pool: list[PoolCitizen]
    device_key: DeviceKey | None = None  # the pool's Cl@ve apps all hold this key
    paths: Paths = field(default_factory=Paths)
    tokens: deque = field(default_factory=lambda: deque(maxlen=512))
    signatures_per_response: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # One pass over the pool for the whole run, across server restarts: a citizen
        # used again and again would reach the cap of SMS codes per citizen (sms.citizen).
        self._next = itertools.cycle(self.pool)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def next_citizen(self) -> PoolCitizen:
        """Round robin over the pool: no citizen nears the cap of SMS codes per citizen."""
        with self._lock:
            return next(self._next)

    def token(self, index: int) -> dict[str, str]:
        """One of the newest tokens: the oldest may have outlived their lifetime by now."""
        if not self.tokens:
            raise Unexpected("no tokens: the login phase issued none")
        return self.tokens[-1 - index % len(self.tokens)]


def _expect(response: requests.Response, status: int, step: str) -> requests.Response:
    if response.status_code != status:
        raise Unexpected(f"{step}: HTTP {response.status_code} {response.text[:120]!r}")
    return response


def _form(page: requests.Response) -> dict[str, str]:
    csrf = _CSRF.search(page.text)
    if csrf is None:
        raise Unexpected(f"no CSRF token on {page.url}")
    fields = {"csrf_token": csrf.group(1)}
    ir = _IR.search(page.text)
    if ir:
        fields["ir"] = ir.group(1)
    return fields


class Login:
    """authorize → password form → SMS code → (consent given) → code → token → UserInfo.

    With ``second_factor=False`` (a client whose default level is low) the password alone
    ends the login: authorize → password form → code → token → UserInfo."""

    def __init__(self, target: Target, second_factor: bool = True) -> None:
        self.target = target
        self.second_factor = second_factor
        self.name = "login" if second_factor else "login_low"

    def prepare(self, thread_index: int) -> None:
        return None

    def run(self, state: None) -> None:
        t = self.target
        citizen = t.next_citizen()
        with requests.Session() as browser:
            verifier, page = _login_page(t, browser)
            # With the SMS step, the password answers the SMS-code page itself (200).
            sent = _expect(browser.post(f"{t.base}/login", timeout=30, allow_redirects=False,
                                        data={**_form(page), "document": citizen.document,
                                              "password": PASSWORD}),
                           200 if self.second_factor else 302, "password")
            if not self.second_factor:
                redeem_and_use(t, sent.headers["Location"], verifier)
                return
            if 'action="/login/otp"' not in sent.text:
                raise Unexpected("password: answered no SMS-code page")
            page = sent
            code = t.sms.take(citizen.phone)
            if code is None:
                raise Unexpected("no SMS code for this citizen")
            done = _expect(browser.post(f"{t.base}/login/otp", data={**_form(page), "otp": code},
                                        timeout=30, allow_redirects=False), 302, "otp")
        redeem_and_use(t, done.headers["Location"], verifier)


def _login_page(t: Target, browser: requests.Session) -> tuple[str, requests.Response]:
    """An RP's authorization request (PKCE), answered by the login page: (verifier, page)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    params = {"response_type": "code", "client_id": t.client_id, "redirect_uri": REDIRECT_URI,
              "scope": SCOPE, "state": secrets.token_urlsafe(8),
              "nonce": secrets.token_urlsafe(8), "code_challenge": challenge.decode(),
              "code_challenge_method": "S256"}
    return verifier, _expect(browser.get(f"{t.base}/authorize?{urlencode(params)}", timeout=30,
                                         allow_redirects=False), 200, "authorize (login page)")


def redeem_and_use(t: Target, location: str, verifier: str) -> None:
    """The RP's back channel: the code from ``location`` for tokens, then UserInfo."""
    query = parse_qs(urlsplit(location).query)
    if "code" not in query:
        raise Unexpected(f"no code: went to {location[:120]}")
    status, body = send(t.host, t.port, build_request(
        t.host, t.port, "POST", t.paths.token, headers={"Authorization": t.basic},
        form={"grant_type": "authorization_code", "code": query["code"][0],
              "redirect_uri": t.paths.redirect_uri, "code_verifier": verifier}))
    if status != 200:
        raise Unexpected(f"token: HTTP {status} {body[:120]!r}")
    tokens = json.loads(body)
    t.signatures_per_response.setdefault("authorization_code", int("id_token" in tokens))
    status, body = send(t.host, t.port, build_request(
        t.host, t.port, "GET", t.paths.userinfo,
        headers={"Authorization": f"Bearer {tokens['access_token']}"}))
    if status != 200:
        raise Unexpected(f"userinfo: HTTP {status}")
    t.tokens.append({"access_token": tokens["access_token"],
                     "refresh_token": tokens["refresh_token"]})


class MobileLogin:
    """authorize → login page with its QR image (whose first request stores the challenge
    the page drafted, as a browser showing it does) → the phone reads the request and approves it
    with the code the page shows (two calls with signed device proofs, as ``idp-mobile`` makes
    them) → the page's poll sees the approval and continues → (consent given) → code → token
    → UserInfo."""

    name = "mobile_login"

    def __init__(self, target: Target) -> None:
        self.target = target

    def prepare(self, thread_index: int) -> None:
        return None

    def _device_call(self, device: DeviceKey, method: str, path: str, **claims: str) -> bytes:
        t = self.target
        proof = device.proof(method, t.base + path, **claims)
        status, body = send(t.host, t.port, build_request(
            t.host, t.port, method, path, headers={PROOF_HEADER: proof},
            form={} if method == "POST" else None))
        if status != 200:
            raise Unexpected(f"app {method} {path.split('/')[-1]}: HTTP {status} {body[:120]!r}")
        return body

    def run(self, state: None) -> None:
        t = self.target
        if t.device_key is None:
            raise Unexpected("no device key: the pool has no enrolled apps")
        citizen = t.next_citizen()
        phone = DeviceKey(t.device_key.key, citizen.device_id, t.base)
        with requests.Session() as browser:
            verifier, page = _login_page(t, browser)
            found, code = _CHALLENGE.search(page.text), _CODE.search(page.text)
            if found is None or code is None:
                raise Unexpected("no QR challenge and code on the login page")
            challenge_id, status_url = found.groups()
            _expect(browser.get(f"{t.base}/mobile/qr/{challenge_id}.png", timeout=30), 200, "QR image")
            self._device_call(phone, "GET", f"{MOBILE_API}/challenges/{challenge_id}")
            decided = self._device_call(phone, "POST", f"{MOBILE_API}/challenges/{challenge_id}/decision",
                                        challenge=challenge_id, decision="approve", code=code.group(1))
            if b"approved" not in decided:
                raise Unexpected(f"app decision: {decided[:120]!r}")
            polled = _expect(browser.get(t.base + status_url, timeout=30), 200, "status poll")
            if polled.json().get("status") != "approved":
                raise Unexpected(f"status poll: {polled.text[:120]}")
            done = _expect(browser.post(f"{t.base}/mobile/continue", timeout=30, allow_redirects=False,
                                        data={**_form(page), "challenge": challenge_id}), 302,
                           "continue")
        redeem_and_use(t, done.headers["Location"], verifier)


class Get:
    """A GET of a public document (discovery, JWKS)."""

    def __init__(self, host: str, port: int, name: str, path: str) -> None:
        self.host, self.port, self.name = host, port, name
        self.raw = build_request(host, port, "GET", path)

    def prepare(self, thread_index: int) -> None:
        return None

    def run(self, state: None) -> None:
        status, _ = send(self.host, self.port, self.raw)
        if status != 200:
            raise Unexpected(f"{self.name}: HTTP {status}")


class UserInfo:
    name = "userinfo"

    def __init__(self, target: Target) -> None:
        self.target = target

    def prepare(self, thread_index: int) -> bytes:
        t = self.target
        bearer = {"Authorization": f"Bearer {t.token(thread_index)['access_token']}"}
        return build_request(t.host, t.port, "GET", t.paths.userinfo, headers=bearer)

    def run(self, raw: bytes) -> bytes:
        status, _ = send(self.target.host, self.target.port, raw)
        if status != 200:
            raise Unexpected(f"userinfo: HTTP {status}")
        return raw


class Introspection:
    name = "introspection"

    def __init__(self, target: Target) -> None:
        self.target = target

    def prepare(self, thread_index: int) -> bytes:
        t = self.target
        return build_request(t.host, t.port, "POST", t.paths.introspection,
                             headers={"Authorization": t.basic},
                             form={"token": t.token(thread_index)["access_token"],
                                   "token_type_hint": "access_token"})

    def run(self, raw: bytes) -> bytes:
        status, body = send(self.target.host, self.target.port, raw)
        if status != 200 or b'"active": true' not in body.replace(b'":true', b'": true'):
            raise Unexpected(f"introspection: HTTP {status} {body[:80]!r}")
        return raw


class Refresh:
    """refresh_token grants; each thread follows its own rotating chain, started by a
    login of ``login`` (the class of the server's login flow)."""

    name = "refresh"

    def __init__(self, target: Target, login: type = Login) -> None:
        self.target = target
        self.login = login
        self._lock = threading.Lock()

    def _fresh(self) -> str:
        with self._lock:  # one chain per thread: a shared one would look like a replay
            if not self.target.tokens:
                raise Unexpected("no refresh token left: too few logins before this run")
            return self.target.tokens.popleft()["refresh_token"]

    def ensure_chains(self, count: int, seconds: float, fresh: bool = False) -> int:
        """Log in (bounded in time) until ``count`` unused refresh tokens are at hand; with
        ``fresh``, new ones only (the peer's in-memory store forgets all but its newest
        1,000 entries, so a token left unused while others rotate is gone)."""
        if fresh:
            with self._lock:
                self.target.tokens.clear()
        login, deadline = self.login(self.target), time.monotonic() + seconds
        while len(self.target.tokens) < count and time.monotonic() < deadline:
            login.run(None)
        return len(self.target.tokens)

    def prepare(self, thread_index: int) -> list[str]:
        return [self._fresh()]

    def run(self, chain: list[str]) -> list[str]:
        t = self.target
        status, body = send(t.host, t.port, build_request(
            t.host, t.port, "POST", t.paths.token, headers={"Authorization": t.basic},
            form={"grant_type": "refresh_token", "refresh_token": chain[0]}))
        if status != 200:
            chain[0] = self._fresh()  # a broken chain is not retried: that would be a replay
            raise Unexpected(f"refresh: HTTP {status} {body[:120]!r}")
        tokens = json.loads(body)
        t.signatures_per_response.setdefault("refresh_token", int("id_token" in tokens))
        chain[0] = tokens["refresh_token"]
        return chain
