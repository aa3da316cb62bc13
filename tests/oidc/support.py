"""Helpers of the tests that hold an endpoint answered in front of Flask (``endpoints/front``)
against the endpoint's Flask route: the same request sent both ways."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.test import Client

from idp.oidc.endpoints.front import Front

REQUEST_ID = "front-and-flask-1"


def front_of(app: Flask, kind: type[Front]) -> Front:
    """The app's layer of this kind, among the WSGI layers around Flask."""
    layer = app.wsgi_app
    while not isinstance(layer, kind):
        layer = layer.inner  # type: ignore[attr-defined]
    return layer


def answers(app: Flask, kind: type[Front], method: str, path: str, **options) -> list[tuple]:  # type: ignore[no-untyped-def]
    """(front's answer, Flask's answer) to the same request, as (status, headers, body)."""
    headers = {"X-Request-Id": REQUEST_ID, **options.pop("headers", {})}
    seen = []
    for wsgi in (app, front_of(app, kind).inner):
        response = Client(wsgi).open(path, method=method, headers=headers, **options)
        seen.append(steady(response))
    return seen


def steady(response) -> tuple:  # type: ignore[no-untyped-def]
    """What must be equal: an error page rendered by Flask (a request handed on) carries a
    new CSRF token in its session cookie and its language form each time."""
    headers = [(name, value.split("=", 1)[0] if name == "Set-Cookie" else value)
               for name, value in response.headers.items()]
    body = re.sub(rb'name="csrf_token" value="[^"]*"', b"", response.get_data())
    return response.status, headers, body


@contextmanager
def counting_handoffs(app: Flask, kind: type[Front]) -> Iterator[list]:
    """The requests the front of this kind hands on to Flask meanwhile."""
    front = front_of(app, kind)
    handed_on: list = []
    inner = front.inner
    front.inner = lambda environ, start_response: handed_on.append(1) or inner(environ, start_response)
    try:
        yield handed_on
    finally:
        front.inner = inner


def without_request_id(answer: tuple) -> tuple:
    status, headers, body = answer
    return status, [(name, value) for name, value in headers if name != "X-Request-Id"], body
