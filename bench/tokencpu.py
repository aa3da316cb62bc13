"""The token paths' CPU, instructions and statements per request, measured in process.

``python -m bench tokencpu`` builds a deployment as ``bench.logincpu`` does (``idp init``, a
client at level low, seeded citizens who consented to it, every ``IDP_*`` default), logs a
citizen in, then drives the requests relying parties send all the time through the real WSGI
app with Flask's test client, with the client already in the process's cache: ``GET
/userinfo``, ``POST /introspect``, ``POST /token`` (a refresh, each with the token the one
before returned), and ``GET /healthz`` (Flask and the app's hooks, no database) for scale;
then, for fresh logins, ``POST /token`` redeeming the code (``POST /token (code)``) and
``POST /revoke`` of its refresh token (a revocation ends the family).
CPU and statements are counted as by ``bench.logincpu.Meter``; ``--instructions`` counts
instructions under callgrind instead (``bench.instructions``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import statistics
import tempfile
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from flask import Flask

from bench.deploy import LOW, REDIRECT_URI, Deployment
from bench.logincpu import Meter, Sample, _code, _fields
from bench.scenarios import SCOPE
from bench.seed import PASSWORD, PoolCitizen, seed

REQUESTS = ["GET /userinfo", "POST /introspect", "POST /token", "POST /token (code)", "GET /healthz",
            "POST /revoke"]
LABEL = "tokens"


def _log_in(app: Flask, meter: Meter, client: dict[str, str], citizen: PoolCitizen,
            redeemed: Any = None) -> dict[str, Any]:
    """A password login at level low and its tokens (not measured, but for the code's
    redemption when ``redeemed`` takes it)."""
    browser = app.test_client()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    page = browser.get("/authorize", query_string={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT_URI,
        "scope": SCOPE, "state": "s", "nonce": "n", "code_challenge": challenge,
        "code_challenge_method": "S256"}).get_data(as_text=True)
    done = browser.post("/login", data={**_fields(page), "document": citizen.document, "password": PASSWORD})
    if meter.marks:
        meter.marks.dump("warm-up")  # the login's requests, apart from the redemption's
    issued = browser.post("/token", headers=_basic(client), data={
        "grant_type": "authorization_code", "code": _code(done), "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier})
    if redeemed is not None:
        redeemed(issued)
    elif meter.marks:
        meter.marks.dump("warm-up")
    return issued.get_json()


def _basic(client: dict[str, str]) -> dict[str, str]:
    raw = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def measure(requests: int, revocations: int) -> dict[str, Any]:
    """``requests`` of each kind after a warm-up, and ``revocations`` revocations."""
    from bench.instructions import marks
    from idp import create_app

    with ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clave-tokencpu-")))
        deployment = Deployment(base, f"sqlite:///{base / 'idp.sqlite3'}", label="tokencpu")
        deployment.init()
        client = deployment.create_client(SCOPE, LOW)
        app = create_app(**deployment.settings())
        logging.getLogger("idp").setLevel(logging.WARNING)
        seeded = seed(app, total=revocations + 1, pool=revocations + 1, client_ids=[client["client_id"]],
                      scope=SCOPE, device_jwk={"kty": "EC", "crv": "P-256", "x": "", "y": ""})
        meter = Meter(marks=marks())
        meter.install(app)
        samples: dict[str, list[Sample]] = defaultdict(list)
        browser, basic = app.test_client(), _basic(client)

        def step(name: str, response: Any, recording: bool) -> Any:
            assert response.status_code == 200, (name, response.status_code)
            meter.recording = recording
            meter.keep(LABEL, name)
            if recording:
                samples[name].append(meter.last)
            return response

        issued = _log_in(app, meter, client, seeded.pool[0])
        access, refresh = issued["access_token"], issued["refresh_token"]
        for n in range(5 + requests):
            recording = n >= 5
            step("GET /userinfo", browser.get("/userinfo", headers={"Authorization": f"Bearer {access}"}),
                 recording)
            step("POST /introspect", browser.post("/introspect", headers=basic, data={"token": access}),
                 recording)
            issued = step("POST /token", browser.post("/token", headers=basic, data={
                "grant_type": "refresh_token", "refresh_token": refresh}), recording).get_json()
            access, refresh = issued["access_token"], issued["refresh_token"]
            step("GET /healthz", browser.get("/healthz"), recording)
        for citizen in seeded.pool[1:]:
            issued = _log_in(app, meter, client, citizen,
                             redeemed=lambda response: step("POST /token (code)", response, True))
            revoked = browser.post("/revoke", headers=basic, data={"token": issued["refresh_token"]})
            step("POST /revoke", revoked, True)
        from idp.extensions import db

        with app.app_context():
            db.engine.dispose()
    return {"requests": requests, "revocations": revocations, "per_request": {
        name: {"cpu_ms_best": round(1000 * min(s.cpu for s in kept), 3),
               "cpu_ms_median": round(1000 * statistics.median(s.cpu for s in kept), 3),
               "statements": kept[-1].statements, "commits": kept[-1].commits}
        for name, kept in samples.items()}}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"The token paths in process ({result['requests']} of each, {result['revocations']} "
             "revocations; SQLite, the client cached):", "",
             "| Request | Statements | Commits | CPU ms (best) | CPU ms (median) |",
             "|---|---:|---:|---:|---:|"]
    for name in REQUESTS:
        row = result["per_request"].get(name)
        if row:
            lines.append(f"| `{name}` | {row['statements']} | {row['commits']} | {row['cpu_ms_best']} "
                         f"| {row['cpu_ms_median']} |")
    return "\n".join(lines)
