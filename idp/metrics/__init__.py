"""What the IdP counts, for Prometheus (``prometheus-client``): requests and their latency
by route, logins by method and outcome, SMS messages, rate-limit refusals, tokens, and the
time argon2id takes.

Labels take their values from short fixed lists (a route is the endpoint's name, never the
path, which carries ids), so the number of series stays small whatever clients send.

Under ``idp serve`` with metrics configured every worker writes its counts to files in a
private directory (``PROMETHEUS_MULTIPROC_DIR``, ``idp.metrics.process``) and a scrape
sums them; elsewhere (tests, a single process) they are this process's own.
No Flask here: the domain modules count through this one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values

REGISTRY = CollectorRegistry(auto_describe=True)


class LoginMethod(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a login method, not a secret
    MOBILE_QR = "mobile_qr"
    MOBILE_PUSH = "mobile_push"
    PASSKEY = "passkey"


class LoginOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # a wrong password, a request denied or a wrong number typed in the app
    REFUSED = "refused"  # a rate limit answered before anything was checked


HTTP_REQUESTS = Counter("idp_http_requests", "Requests answered, by route (the endpoint's name) "
                        "and status.", ["route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("idp_http_request_duration_seconds", "Time to answer a request, by route.",
                         ["route"], registry=REGISTRY,
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LOGINS = Counter("idp_logins", "Logins by method and outcome.", ["method", "outcome"], registry=REGISTRY)
SMS = Counter("idp_sms", "SMS messages (one-time codes, notices) handed to the gateway or that it "
              "failed to take.", ["kind", "outcome"], registry=REGISTRY)
RATE_LIMIT_REFUSALS = Counter("idp_rate_limit_refusals", "Attempts refused unchecked because a "
                              "named limit (IDP_RATE_LIMITS) was full.", ["limit"], registry=REGISTRY)
TOKENS = Counter("idp_tokens", "Token requests, issued or refused, by grant type.",
                 ["grant_type", "outcome"], registry=REGISTRY)
ARGON2 = Histogram("idp_argon2id_seconds", "Time of one argon2id computation (waiting for a turn "
                   "excluded).", ["operation"], registry=REGISTRY,
                   buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2))
GRANT_TYPES = ("authorization_code", "refresh_token")

# The series a dashboard expects are there from the start, at 0.
for _method in LoginMethod:
    for _outcome in LoginOutcome:
        if (_method, _outcome) != (LoginMethod.MOBILE_QR, LoginOutcome.REFUSED):  # no QR limit
            LOGINS.labels(_method, _outcome)
for _kind in ("code", "notice"):
    for _sent in ("sent", "failed"):
        SMS.labels(_kind, _sent)
for _grant in GRANT_TYPES:
    for _issued in ("issued", "refused"):
        TOKENS.labels(_grant, _issued)


def login(method: LoginMethod | str, outcome: LoginOutcome) -> None:
    LOGINS.labels(method, outcome).inc()


def mobile_method(challenge_kind: str) -> LoginMethod:
    """The login method of a Cl@ve mobile challenge of this kind (``qr`` or ``push``)."""
    return LoginMethod.MOBILE_PUSH if challenge_kind == "push" else LoginMethod.MOBILE_QR


def sms(kind: str, *, sent: bool) -> None:
    """``kind``: ``code`` (a one-time code) or ``notice``."""
    SMS.labels(kind, "sent" if sent else "failed").inc()


def token(grant_type: str | None, *, issued: bool) -> None:
    TOKENS.labels(grant_type if grant_type in GRANT_TYPES else "other",
                  "issued" if issued else "refused").inc()


@contextmanager
def argon2_timed(operation: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        ARGON2.labels(operation).observe(time.perf_counter() - started)


def exposition() -> bytes:
    """The Prometheus text of every count: summed over the workers' files in multiprocess
    mode, this process's own otherwise."""
    if values.ValueClass is not values.MutexValue:  # the mode chosen when it was imported
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
