"""A login's CPU outside argon2id, request by request, measured in process.

``python -m bench logincpu`` builds a deployment as ``make bench`` does (``idp init``, a
client at level substantial and one at level low, seeded citizens who consented to both,
every ``IDP_*`` default but the SMS cap per address), then drives full logins through the
real WSGI app with Flask's test client, which runs each request in this thread:

* **CPU** is ``time.thread_time`` around the WSGI call of each request (the response body
  included), less the CPU time spent inside argon2id's own verification (the library
  call, timed alone), so neither the load of the machine's other processes nor the client
  side of the test client counts. The median of the logins is shown per request, and the
  median of each login's total.
* **Statements and commits** are counted by SQLAlchemy events, as ``bench/queries.py``.

Logins of the two levels are interleaved (a password-only login at level low: 4 requests;
one with the SMS code at substantial: 5), after a few unmeasured ones that warm the caches.
``--profile FILE`` writes a cProfile of the measured logins (argon2id included).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from sqlalchemy import event

from bench.deploy import LOW, REDIRECT_URI, SUBSTANTIAL, Deployment
from bench.scenarios import SCOPE
from bench.seed import PASSWORD, PoolCitizen, seed
from bench.wire import SmsTail

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_IR = re.compile(r'name="ir" value="([^"]*)"')
WARM_UP = 5


@dataclass
class Sample:
    cpu: float = 0.0  # seconds outside argon2id
    argon2: float = 0.0
    statements: int = 0
    commits: int = 0


@dataclass
class Meter:
    """Wraps the app: each request's CPU in this thread, argon2id's share and the SQL sent."""

    argon2: float = 0.0
    statements: int = 0
    commits: int = 0
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    recording: bool = False
    marks: Any = None  # under callgrind: bench.instructions.Marks

    def install(self, app: Flask) -> None:
        from idp.citizens import hasher
        from idp.extensions import db

        with app.app_context():
            engine = db.engine
            library = hasher()._memory
        meter = self

        class TimedArgon2:  # the verification alone (idp.argon2_memory): semaphore and metrics stay outside
            def __getattr__(self, name: str) -> Any:
                return getattr(library, name)

            def verify(self, *args: Any) -> Any:
                started = time.thread_time()
                try:
                    return library.verify(*args)
                finally:
                    meter.argon2 += time.thread_time() - started

        with app.app_context():
            hasher()._memory = TimedArgon2()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        inner = app.wsgi_app

        def timed(environ: dict, start_response: Callable) -> Iterable[bytes]:
            self.argon2, self.statements, self.commits = 0.0, 0, 0
            if self.marks:
                self.marks.toggle()
            started = time.thread_time()
            result = inner(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
            elapsed = time.thread_time() - started
            if self.marks:
                self.marks.toggle()
            self.last = Sample(elapsed - self.argon2, self.argon2, self.statements, self.commits)
            return [body]

        app.wsgi_app = timed  # type: ignore[method-assign]

    def _statement(self, *_: Any) -> None:
        self.statements += 1

    def _commit(self, *_: Any) -> None:
        self.commits += 1

    def keep(self, login: str, step: str) -> None:
        if self.marks:
            self.marks.dump(f"{login}|{step}" if self.recording else "warm-up")
        if self.recording:
            self.samples[f"{login}\0{step}"].append(self.last)


def _fields(html: str) -> dict[str, str]:
    fields = {"csrf_token": _CSRF.search(html).group(1)}  # type: ignore[union-attr]
    ir = _IR.search(html)
    if ir:
        fields["ir"] = ir.group(1)
    return fields


def _code(response: Any) -> str:
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def one_login(app: Flask, meter: Meter, login: str, client: dict[str, str], citizen: PoolCitizen,
              sms: SmsTail) -> None:
    """authorize (answered by the login page) → POST /login (answering the SMS-code page) →
    (POST code) → token → UserInfo."""
    browser = app.test_client()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")

    def step(name: str, response: Any, status: int) -> Any:
        assert response.status_code == status, (login, name, response.status_code)
        meter.keep(login, name)
        return response

    page = step("GET /authorize (login page)", browser.get("/authorize", query_string={
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT_URI,
        "scope": SCOPE, "state": "s", "nonce": "n", "code_challenge": challenge,
        "code_challenge_method": "S256"}), 200)
    second_factor = login == "substantial"
    done = step("POST /login", browser.post("/login", data={
        **_fields(page.get_data(as_text=True)), "document": citizen.document, "password": PASSWORD}),
        200 if second_factor else 302)
    if second_factor:  # the SMS-code page, answered to the password
        done = step("POST /login/otp", browser.post("/login/otp", data={
            **_fields(done.get_data(as_text=True)), "otp": sms.take(citizen.phone) or ""}), 302)
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    tokens = step("POST /token", browser.post("/token", headers={"Authorization": f"Basic {basic}"}, data={
        "grant_type": "authorization_code", "code": _code(done), "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier}), 200).get_json()
    step("GET /userinfo", browser.get("/userinfo", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}), 200)


def _median_ms(values: Iterable[float]) -> float:
    return round(1000 * statistics.median(values), 2)


def measure(logins: int, profile: Path | None = None) -> dict[str, Any]:
    """``logins`` logins of each level, interleaved, after a warm-up."""
    from idp import create_app

    with ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clave-logincpu-")))
        deployment = Deployment(base, f"sqlite:///{base / 'idp.sqlite3'}", label="logincpu")
        deployment.init()
        clients = {"substantial": deployment.create_client(SCOPE, SUBSTANTIAL),
                   "low": deployment.create_client(SCOPE, LOW)}
        app = create_app(**deployment.settings())
        logging.getLogger("idp").setLevel(logging.WARNING)
        pool = 2 * (logins + WARM_UP)
        seeded = seed(app, total=pool, pool=pool, client_ids=[c["client_id"] for c in clients.values()],
                      scope=SCOPE, device_jwk={"kty": "EC", "crv": "P-256", "x": "", "y": ""})
        sms = SmsTail(deployment.sms_file)
        from bench.instructions import marks

        meter = Meter(marks=marks())
        meter.install(app)
        citizens = iter(seeded.pool)
        profiler = None
        for n in range(WARM_UP + logins):
            if n == WARM_UP:
                meter.recording = True
                if profile:
                    import cProfile

                    profiler = cProfile.Profile(time.thread_time)  # CPU, as measured
                    profiler.enable()
            for level, client in clients.items():
                one_login(app, meter, level, client, next(citizens), sms)
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
        from idp.extensions import db

        with app.app_context():
            db.engine.dispose()
    return _summary(meter, logins)


def _summary(meter: Meter, logins: int) -> dict[str, Any]:
    result: dict[str, Any] = {"logins_per_level": logins, "levels": {}}
    for level in ("low", "substantial"):
        steps = {key.split("\0")[1]: samples for key, samples in meter.samples.items()
                 if key.startswith(level + "\0")}
        totals = [sum(samples[i].cpu for samples in steps.values()) for i in range(logins)]
        result["levels"][level] = {
            "requests": {name: {"cpu_ms": _median_ms(s.cpu for s in samples),
                                "statements": samples[-1].statements, "commits": samples[-1].commits}
                         for name, samples in steps.items()},
            "cpu_ms": _median_ms(totals),
            "argon2_ms": _median_ms(s.argon2 for s in steps["POST /login"]),
            "statements": sum(samples[-1].statements for samples in steps.values()),
            "commits": sum(samples[-1].commits for samples in steps.values())}
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [f"A login's CPU outside argon2id, in process (median of {result['logins_per_level']} "
             "logins per level, `time.thread_time` around each WSGI call, argon2id's own call "
             "subtracted):", "",
             "| Request | CPU ms, password only (low) | CPU ms, password + SMS (substantial) "
             "| Statements | Commits |", "|---|---:|---:|---:|---:|"]
    low, full = result["levels"]["low"], result["levels"]["substantial"]
    for name, entry in full["requests"].items():
        cheap = low["requests"].get(name)
        lines.append(f"| {name} | {cheap['cpu_ms'] if cheap else '–'} | {entry['cpu_ms']} "
                     f"| {entry['statements']} | {entry['commits']} |")
    lines.append(f"| **= a login** | **{low['cpu_ms']}** | **{full['cpu_ms']}** "
                 f"| **{low['statements']} / {full['statements']}** "
                 f"| **{low['commits']} / {full['commits']}** |")
    lines += ["", f"argon2id's own verification: {full['argon2_ms']} ms (subtracted above). "
              "Statements and commits: password only / with the SMS step."]
    return "\n".join(lines)
