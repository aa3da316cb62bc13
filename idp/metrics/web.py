"""Requests counted as they pass, and ``/metrics`` for Prometheus: both WSGI layers, outside
Flask, so that the count sees every answer (the published documents' too) and a scrape
touches neither the session nor the database.

``/metrics`` is never public by default: the app serves it only with ``IDP_METRICS_TOKEN``
(a bearer token, compared in constant time); ``IDP_METRICS_BIND`` serves it on an address
of its own (``idp.metrics.process``). With neither, it is a 404 like any unknown path.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request

from idp import metrics

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PATH = "/metrics"
# The endpoint that answered, noted in the environ by Flask's teardown or by a layer that
# answers without Flask (PublishedDocuments): the route counted, never the path.
ROUTE = "idp.route"
UNMATCHED = "unmatched"  # no route: a 404 or 405 answered by Flask itself
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def enabled(config: dict[str, Any]) -> bool:
    return bool(config["IDP_METRICS_TOKEN"] or config["IDP_METRICS_BIND"])


def init_metrics(app: Flask) -> None:
    """Count the app's requests when metrics are configured (else nothing is added to a
    request's path), and serve ``/metrics`` with the token when there is one."""
    if not enabled(app.config):
        return
    token = app.config["IDP_METRICS_TOKEN"]

    @app.teardown_request
    def _note_route(_error: BaseException | None) -> None:
        rule = request.url_rule
        request.environ[ROUTE] = rule.endpoint if rule is not None else UNMATCHED

    app.wsgi_app = RequestMetrics(  # type: ignore[method-assign]
        app.wsgi_app, scrape=MetricsEndpoint(token) if token else None)


class RequestMetrics:
    """Counts each answer by route and status, and times it (the app's work until it
    returns its body: every answer of this app is a body already built)."""

    def __init__(self, app: WsgiApp, scrape: WsgiApp | None = None) -> None:
        self.app = app
        self.scrape = scrape
        # The series of each (route, status) once looked up: ``labels()`` takes a lock and
        # builds its key on every call, as much again as the counting itself.
        self.series: dict[tuple[str, str], tuple[Any, Any]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.scrape is not None and environ.get("PATH_INFO") == PATH:
            return self.scrape(environ, start_response)
        started = time.perf_counter()
        answered: list[str] = []

        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, recording)
        finally:
            key = (environ.get(ROUTE, UNMATCHED), answered[-1][:3] if answered else "500")
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = (metrics.HTTP_LATENCY.labels(key[0]),
                                             metrics.HTTP_REQUESTS.labels(*key))
            series[0].observe(time.perf_counter() - started)
            series[1].inc()


class MetricsEndpoint:
    """``GET /metrics`` with ``Authorization: Bearer <token>`` when ``token`` is set."""

    def __init__(self, token: str = "") -> None:
        self.expected = f"Bearer {token}".encode() if token else None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return _plain(start_response, "404 Not Found", b"Not found.\n")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", b"GET only.\n",
                          [("Allow", "GET, HEAD")])
        if self.expected is not None:
            presented = environ.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
            if not hmac.compare_digest(presented, self.expected):
                return _plain(start_response, "401 Unauthorized", b"A bearer token is needed.\n",
                              [("WWW-Authenticate", 'Bearer realm="metrics"')])
        body = metrics.exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def _plain(start_response: Callable[..., Any], status: str, body: bytes,
           headers: list[tuple[str, str]] = ()) -> list[bytes]:  # type: ignore[assignment]
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                            ("X-Content-Type-Options", "nosniff"), *headers])
    return [body]
