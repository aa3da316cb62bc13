"""The token paths relying parties call all the time, answered in front of Flask.

``PublishedDocuments`` answers the discovery document and the JWKS before Flask sees the
request; a ``Front`` does the same for a protocol endpoint whose answer needs the database
but no browser state: UserInfo (``userinfo.UserInfoFront``) and introspection
(``introspection.IntrospectionFront``). A front takes only the requests it can answer
exactly as the endpoint's Flask route does (the same Authlib parsing, validators, errors,
JSON bytes and headers, in their order), and hands every other one on untouched: another
method, a query string (``ui_locales`` is a query parameter of every page), plain HTTP to a
host other than loopback (``transport``'s refusal), a malformed Host, a body Flask would
refuse or read another way. What it answers, it answers inside an app context (the client
cache, the settings, ``g.request_id`` for the log lines) but without a request context,
session, locale or CSRF check, and it writes nothing: a request that would write (a failed
client authentication is counted and audited) goes on to Flask, which answers it with its
unit of work. The tests of each endpoint send every case, and fuzzed ones, both ways.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, g
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.formparser import parse_form_data
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.wsgi import get_host

from idp.metrics.web import ROUTE
from idp.transport import is_loopback
from idp.web import RETRY_AFTER_SECONDS, request_id, security_headers, well_formed_host

log = logging.getLogger("idp")
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]
FORM = "application/x-www-form-urlencoded"


class HandOn(Exception):  # noqa: N818 - not an error: the route answers this one
    """This request is the route's to answer (raised before anything is written)."""


class Front:
    """A WSGI layer answering ``methods`` of ``path`` (``answer``), or handing on."""

    path: str
    methods: tuple[str, ...]

    def __init__(self, app: Flask, inner: WsgiApp, route: str) -> None:
        self.app = app
        self.inner = inner
        self.route = route  # the endpoint Flask would name (idp.metrics.web)
        self.max_body: int = app.config["MAX_CONTENT_LENGTH"]
        # As Flask's after_request hook (web.init_web) adds them, in its order.
        self.always = list(security_headers(app.config["IDP_SECURE_COOKIES"]).items())

    def answer(self, environ: dict[str, Any]) -> Answer:
        raise NotImplementedError

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if (environ.get("PATH_INFO") != self.path or method not in self.methods
                or environ.get("SCRIPT_NAME") or environ.get("QUERY_STRING") or not secure(environ)):
            return self.inner(environ, start_response)
        try:
            with self.app.app_context():
                g.request_id = request_id(environ)
                try:
                    status, headers, body = self.answer(environ)
                except (OperationalError, InterfaceError, PoolTimeout) as error:
                    status, headers, body = unavailable(error)
                headers = [*headers, ("X-Request-Id", g.request_id), *self.always]
        except HandOn:
            return self.inner(environ, start_response)
        if status == 503:
            headers.append(("Cache-Control", "no-store"))  # web's hook, for JSON it did not mark
        environ[ROUTE] = self.route
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", headers)
        return [] if method == "HEAD" else [body]

    def json(self, status: int, headers: Headers, payload: dict[str, Any]) -> Answer:
        """As Authlib's Flask integration answers: Flask's JSON of ``payload``."""
        body = self.app.json.dumps(payload).encode()
        return status, [*headers, ("Content-Length", str(len(body)))], body

    def small_form(self, environ: dict[str, Any]) -> dict[str, str] | None:
        """The form of a POST body as Flask reads it, for a body Flask would read without
        refusing it: no chunks, at most ``MAX_CONTENT_LENGTH`` bytes, and URL-encoded when
        there is one (else ``HandOn``). The body stays readable for the route."""
        if environ.get("HTTP_TRANSFER_ENCODING") is not None:
            raise HandOn
        length = environ.get("CONTENT_LENGTH") or "0"
        if not (length.isascii() and length.isdigit()) or int(length) > self.max_body:
            raise HandOn
        if int(length) == 0:
            return {}
        if parse_options_header(environ.get("CONTENT_TYPE", ""))[0] != FORM:
            raise HandOn
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)
        _, form, _ = parse_form_data({**environ, "wsgi.input": io.BytesIO(body)},
                                     max_content_length=self.max_body)
        return form


def secure(environ: dict[str, Any]) -> bool:
    """A well-formed Host (or none), over HTTPS or to loopback (``transport``)."""
    host = environ.get("HTTP_HOST")
    if host is not None and not well_formed_host(host):
        return False
    return environ.get("wsgi.url_scheme") == "https" or is_loopback(get_host(environ))


def unavailable(error: Exception) -> Answer:
    """As ``web``'s handler of a database that does not answer."""
    log.error("database unavailable: %s", error.__class__.__name__)
    from flask import current_app

    body = (current_app.json.dumps({"error": "temporarily_unavailable",
                                    "error_description": "The service is not available right now."},
                                   separators=(",", ":")) + "\n").encode()
    return 503, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                 ("Retry-After", str(RETRY_AFTER_SECONDS))], body
