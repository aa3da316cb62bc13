"""SQL statements and commits per request of each flow, counted in-process.

The app is built with the deployment's own settings against the same database and driven
through Flask's test client, one request of each kind, while SQLAlchemy events count what
reaches the driver. A commit is a transaction (on SQLite in WAL mode, a WAL sync and the
single writer lock); a statement is a round trip (on PostgreSQL, a network hop). A request
commits once, when its view has answered; the commits it makes besides are named
(``idp.unit_of_work.CommitReason``) and listed with it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlalchemy import event

from bench.deploy import REDIRECT_URI
from bench.seed import PASSWORD, PoolCitizen
from bench.wire import SmsTail
from idp_mobile.device import PROOF_HEADER, DeviceKey

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_IR = re.compile(r'name="ir" value="([^"]*)"')
_CHALLENGE = re.compile(r'data-challenge="([^"]+)"')
_STATUS = re.compile(r'data-status-url="([^"]+)"')
_CODE = re.compile(r'class="verification-code"[^>]*>(\d+)<')  # typed in the app


class _Counter:
    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.commits = 0
        self.named: list[str] = []

    def statement(self, conn, cursor, statement: str, *args: Any) -> None:  # type: ignore[no-untyped-def]
        self.kinds[statement.lstrip().split(None, 1)[0].upper()] += 1

    def commit(self, conn) -> None:  # type: ignore[no-untyped-def]
        self.commits += 1

    def named_commit(self, reason: str) -> None:
        self.named.append(str(reason))

    def take(self) -> dict[str, Any]:
        counted = {"statements": sum(self.kinds.values()), "commits": self.commits,
                   "named_commits": self.named,
                   **{k.lower(): v for k, v in sorted(self.kinds.items())}}
        self.kinds, self.commits, self.named = Counter(), 0, []
        return counted


def _fields(html: str) -> dict[str, str]:
    fields = {"csrf_token": _CSRF.search(html).group(1)}  # type: ignore[union-attr]
    ir = _IR.search(html)
    if ir:
        fields["ir"] = ir.group(1)
    return fields


def count_per_request(app: Flask, citizen: PoolCitizen, client_id: str, client_secret: str,
                      sms: SmsTail, scope: str, device: DeviceKey) -> dict[str, dict[str, Any]]:
    """One request of each step of a full login, the token-holding endpoints, then each step
    of a Cl@ve mobile login approved by ``device`` (the citizen's enrolled app)."""
    from idp.extensions import db
    from idp.unit_of_work import extra_commit

    with app.app_context():
        engine = db.engine
    counter = _Counter()
    event.listen(engine, "before_cursor_execute", counter.statement)
    event.listen(engine, "commit", counter.commit)
    extra_commit.connect(counter.named_commit)
    basic = {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()}
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    authorize = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
                 "scope": scope, "state": "s", "nonce": "n", "code_challenge": challenge,
                 "code_challenge_method": "S256"}
    counts: dict[str, dict[str, Any]] = {}
    try:
        browser = app.test_client()
        counter.take()
        page = browser.get("/authorize", query_string=authorize)
        counts["GET /authorize (login page, QR drafted)"] = counter.take()
        sent = browser.post("/login", data={**_fields(page.get_data(as_text=True)),
                                            "document": citizen.document, "password": PASSWORD})
        counts["POST /login (password, SMS sent, SMS-code page)"] = counter.take()
        done = browser.post("/login/otp", data={**_fields(sent.get_data(as_text=True)),
                                                "otp": sms.take(citizen.phone) or ""})
        counts["POST /login/otp (session, code)"] = counter.take()
        code = parse_qs(urlsplit(done.headers["Location"]).query)["code"][0]
        tokens = browser.post("/token", headers=basic, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}).get_json()
        counts["POST /token (authorization_code)"] = counter.take()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        browser.get("/userinfo", headers=bearer)
        counts["GET /userinfo"] = counter.take()
        browser.post("/introspect", headers=basic, data={"token": tokens["access_token"],
                                                         "token_type_hint": "access_token"})
        counts["POST /introspect"] = counter.take()
        browser.post("/token", headers=basic, data={"grant_type": "refresh_token",
                                                    "refresh_token": tokens["refresh_token"]})
        counts["POST /token (refresh_token)"] = counter.take()
        browser.get("/.well-known/openid-configuration")
        counts["GET discovery"] = counter.take()
        browser.get("/jwks.json")
        counts["GET /jwks.json"] = counter.take()
        counts.update(_count_mobile_login(app, counter, authorize, device, citizen))
    finally:
        extra_commit.disconnect(counter.named_commit)
        event.remove(engine, "before_cursor_execute", counter.statement)
        event.remove(engine, "commit", counter.commit)
    login_steps = [k for k in counts if not k.startswith(("POST /introspect", "POST /token (refresh",
                                                          "GET discovery", "GET /jwks", MOBILE))]
    mobile_steps = ["GET /authorize (login page, QR drafted)",
                    *[k for k in counts if k.startswith(MOBILE)],
                    "POST /token (authorization_code)", "GET /userinfo"]
    for label, steps in (("= full login (5 requests)", login_steps),
                         ("= Cl@ve mobile login (8 requests)", mobile_steps)):
        counts[label] = {"statements": sum(counts[k]["statements"] for k in steps),
                         "commits": sum(counts[k]["commits"] for k in steps)}
    return counts


MOBILE = "mobile: "


def _count_mobile_login(app: Flask, counter: _Counter, authorize: dict[str, str], device: DeviceKey,
                        citizen: PoolCitizen) -> dict[str, dict[str, Any]]:
    """The steps a Cl@ve mobile login adds: the page's QR image, the app's two signed calls,
    the page's poll and its continue (a fresh browser: the first one is logged in by now)."""
    browser = app.test_client()
    phone = DeviceKey(device.key, citizen.device_id, app.config["IDP_ISSUER"])
    page = browser.get("/authorize", query_string=authorize)
    html = page.get_data(as_text=True)
    challenge_id = _CHALLENGE.search(html).group(1)  # type: ignore[union-attr]
    status_url = _STATUS.search(html).group(1)  # type: ignore[union-attr]
    code = _CODE.search(html).group(1)  # type: ignore[union-attr]
    counts = {}
    counter.take()
    browser.get(f"/mobile/qr/{challenge_id}.png")
    counts[MOBILE + "GET QR image (stores the challenge)"] = counter.take()
    path = f"/api/mobile/v1/challenges/{challenge_id}"
    browser.get(path, headers={PROOF_HEADER: phone.proof("GET", phone.issuer + path)})
    counts[MOBILE + "GET challenge (the app, signed)"] = counter.take()
    path += "/decision"
    browser.post(path, headers={PROOF_HEADER: phone.proof("POST", phone.issuer + path, code=code,
                                                          challenge=challenge_id, decision="approve")})
    counts[MOBILE + "POST decision (the app, signed)"] = counter.take()
    browser.get(status_url)
    counts[MOBILE + "GET status (the page's poll)"] = counter.take()
    browser.post("/mobile/continue", data={**_fields(html), "challenge": challenge_id})
    counts[MOBILE + "POST /mobile/continue (session, code)"] = counter.take()
    return counts
