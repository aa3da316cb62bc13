"""UserInfo: GET or POST, token in the Authorization header or the form body (RFC 6750 §2.2).

``UserInfoFront`` answers the requests relying parties send all the time in front of Flask,
as ``PublishedDocuments`` does the discovery document: no request context, session, locale,
CSRF or ORM session, the token read by one Core statement on a connection of the engine.
What it answers is what the route below answers (the same Authlib parsing, validator and
errors, the same claims, headers and bytes: ``tests/oidc/test_userinfo_front.py`` holds the
two side by side); anything it does not take (another method, a query string, plain HTTP
to another host than loopback, a body other than a small form, a malformed Host) goes on
to Flask and this route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2 import ResourceProtector as PlainResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from flask import Flask, g, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.formparser import parse_form_data
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.wsgi import get_host

from idp.extensions import db
from idp.metrics.web import ROUTE
from idp.oidc import bearer, server, tokens
from idp.oidc import claims as claim_rules
from idp.oidc.endpoints import blueprint
from idp.oidc.id_token import subject_for
from idp.transport import is_loopback
from idp.web import RETRY_AFTER_SECONDS, request_id, security_headers, well_formed_host

log = logging.getLogger("idp")
PATH = "/userinfo"
SCOPES = ["openid"]
_FORM = "application/x-www-form-urlencoded"


class AccessTokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> bearer.ActiveToken | None:
        return bearer.token_in_force(token_string, tokens.ACCESS)


class BodyOrHeaderProtector(ResourceProtector):
    def parse_request_authorization(self, request_):  # type: ignore[no-untyped-def]
        body_token = request.form.get("access_token") if request.method == "POST" else None
        if body_token and not request.headers.get("Authorization"):
            return self.get_token_validator("bearer"), body_token
        return super().parse_request_authorization(request_)


def user_info(token: bearer.ActiveToken) -> UserInfo:
    """The claims of the token's scopes and of its ``claims`` request for UserInfo."""
    names = claim_rules.requested_claims(token.scope, {"userinfo": token.claims_request.get("userinfo", {})})
    info = {"sub": subject_for(token.client, token.citizen.id)}
    info.update(claim_rules.release(token.citizen, names))
    return UserInfo(info)


class ClaveUserInfo(UserInfoEndpoint):
    def generate_user_info(self, user: bearer.CitizenClaims, scope: str) -> UserInfo:
        return user_info(current_token._get_current_object())  # type: ignore[attr-defined]


def userinfo_endpoint() -> ClaveUserInfo:
    protector = BodyOrHeaderProtector()
    protector.register_token_validator(AccessTokenValidator())
    return ClaveUserInfo(resource_protector=protector)


@blueprint.route(PATH, methods=["GET", "POST"])
def userinfo():  # type: ignore[no-untyped-def]
    response = server().create_endpoint_response(ClaveUserInfo.ENDPOINT_NAME)
    response.headers["Cache-Control"] = "no-store"
    return response


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]


class _Presented:
    """What Authlib's ``ResourceProtector`` reads of a request: its Authorization header."""

    def __init__(self, authorization: str | None) -> None:
        self.headers = {"Authorization": authorization} if authorization else {}


class UserInfoFront:
    """``GET``, ``HEAD`` and ``POST /userinfo`` answered before Flask sees the request."""

    def __init__(self, app: Flask, inner: WsgiApp) -> None:
        self.app = app
        self.inner = inner
        self.route = f"{blueprint.name}.{userinfo.__name__}"
        self.max_body: int = app.config["MAX_CONTENT_LENGTH"]
        self.protector = PlainResourceProtector()
        self.protector.register_token_validator(BearerTokenValidator())
        # As Flask's after_request hook (web.init_web) adds them, in its order.
        self.always = list(security_headers(app.config["IDP_SECURE_COOKIES"]).items())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if (environ.get("PATH_INFO") != PATH or method not in ("GET", "HEAD", "POST")
                or environ.get("SCRIPT_NAME") or environ.get("QUERY_STRING") or not self._secure(environ)):
            return self.inner(environ, start_response)
        authorization = environ.get("HTTP_AUTHORIZATION")
        body_token = None
        if method == "POST":
            taken, body_token = self._form_token(environ, bool(authorization))
            if not taken:
                return self.inner(environ, start_response)
        environ[ROUTE] = self.route
        with self.app.app_context():
            g.request_id = request_id(environ)
            try:
                status, headers, body = self._answer(authorization, body_token)
            except (OperationalError, InterfaceError, PoolTimeout) as error:
                status, headers, body = self._unavailable(error)
            headers = [*headers, ("X-Request-Id", g.request_id), *self.always]
        if status == 503:
            headers.append(("Cache-Control", "no-store"))  # web's hook, for JSON it did not mark
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", headers)
        return [] if method == "HEAD" else [body]

    def _secure(self, environ: dict[str, Any]) -> bool:
        """A well-formed Host (or none), over HTTPS or to loopback (``transport``)."""
        host = environ.get("HTTP_HOST")
        if host is not None and not well_formed_host(host):
            return False
        return environ.get("wsgi.url_scheme") == "https" or is_loopback(get_host(environ))

    def _form_token(self, environ: dict[str, Any], has_header: bool) -> tuple[bool, str | None]:
        """(taken, the form's ``access_token``) of a POST: only a body Flask would read
        without refusing it, a form of at most ``MAX_CONTENT_LENGTH`` bytes, or none."""
        if environ.get("HTTP_TRANSFER_ENCODING") is not None:
            return False, None
        length = environ.get("CONTENT_LENGTH") or "0"
        if not (length.isascii() and length.isdigit()) or int(length) > self.max_body:
            return False, None
        if int(length) == 0:
            return True, None
        if parse_options_header(environ.get("CONTENT_TYPE", ""))[0] != _FORM:
            return False, None
        if has_header:
            return True, None  # the header wins: the form is not read
        _, form, _ = parse_form_data(environ, max_content_length=self.max_body)
        return True, form.get("access_token")

    def _answer(self, authorization: str | None, body_token: str | None) -> Answer:
        try:
            if body_token and not authorization:
                validator, value = self.protector.get_token_validator("bearer"), body_token
            else:
                validator, value = self.protector.parse_request_authorization(_Presented(authorization))
            with db.engine.connect() as connection:
                token = bearer.token_in_force(value, tokens.ACCESS, connection)
            validator.validate_token(token, SCOPES, None)
        except OAuth2Error as error:
            status, payload, headers = error()
            return (status, *self._json(headers, payload))
        return (200, *self._json(default_json_headers[:], user_info(token)))

    def _json(self, headers: Headers, payload: dict[str, Any]) -> tuple[Headers, bytes]:
        body = self.app.json.dumps(payload).encode()
        return [*headers, ("Content-Length", str(len(body)))], body

    def _unavailable(self, error: Exception) -> Answer:
        """As ``web``'s handler of a database that does not answer."""
        log.error("database unavailable: %s", error.__class__.__name__)
        body = (self.app.json.dumps({"error": "temporarily_unavailable",
                                     "error_description": "The service is not available right now."},
                                    separators=(",", ":")) + "\n").encode()
        return 503, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                     ("Retry-After", str(RETRY_AFTER_SECONDS))], body
