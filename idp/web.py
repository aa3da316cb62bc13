"""What every request and response goes through: request ids, security headers,
locale choice, error pages that never leak a stack trace."""

from __future__ import annotations

import ipaddress
import logging
import re
from pathlib import Path

from flask import Flask, Response, current_app, g, jsonify, make_response, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from idp import rendering
from idp.secrets import random_token
from idp.unit_of_work import abandon

log = logging.getLogger("idp")

LANGUAGES = {"es": "Español", "ca": "Català", "gl": "Galego", "eu": "Euskara",
             "ca_ES_VALENCIA": "Valencià", "en": "English"}
LANGUAGE_COOKIE = "idp_lang"
SOURCE_LOCALE = "en"  # the language of the msgids
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_HOST = re.compile(r"(?P<name>\[[^]]*]|[^:\[\]]*)(?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]+")
# Answered in JSON when the database is down: OIDC and mobile API clients, health probes.
JSON_PATHS = ("/token", "/userinfo", "/introspect", "/revoke", "/jwks.json", "/.well-known/",
              "/api/", "/mobile/status/", "/readyz", "/healthz")
RETRY_AFTER_SECONDS = 30
# The JSON APIs (Cl@ve mobile, Cl@ve Firma): even their unmatched paths answer in JSON.
API_PATHS = ("/api/",)
# Routes that take a document (Cl@ve Firma): endpoint → the setting of its largest size.
_LARGE_BODIES = "idp.large_bodies"
# Room for the form fields around such a document (redirect URI, state, credentials, CSRF).
FORM_ALLOWANCE = 64 * 1024

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def well_formed_host(value: str) -> bool:
    """``host[:port]`` as RFC 9110 §7.2 allows it, the name as DNS writes it (RFC 1123):
    labels of 1 to 63 letters, digits and inner hyphens, 253 characters in all (a final
    dot allowed), or an IPv6 literal in brackets without a zone; a port from 1 to 65535."""
    match = _HOST.fullmatch(value)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) <= 65535):
        return False
    name = match["name"]
    if name.startswith("["):
        literal = name[1:-1]
        if not _IPV6.fullmatch(literal):
            return False
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
        return True
    name = name.removesuffix(".")
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def request_id(environ: dict) -> str:
    """The client's (or proxy's) ``X-Request-Id`` when it is a sane token, else a new one."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    return incoming if _REQUEST_ID.match(incoming) else random_token(12)


def security_headers(secure: bool) -> dict[str, str]:
    """What every answer carries (a view may set its own Content-Security-Policy)."""
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
               "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
    if secure:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


def public_url(endpoint: str, **values: str) -> str:
    """The address of one of our pages as a citizen writes it down: from ``IDP_ISSUER``,
    never from the request's Host header, which the client chooses."""
    path = url_for(endpoint, **values).removeprefix(request.script_root)
    return current_app.config["IDP_ISSUER"] + path


def locale_from_tags(tags: str | None) -> str | None:
    """First supported language of a space-separated BCP 47 list (``ui_locales``)."""
    for tag in (tags or "").replace(",", " ").split():
        tag = tag.replace("-", "_")
        lowered = tag.lower()
        if lowered in ("ca_es_valencia", "ca_valencia", "va"):
            return "ca_ES_VALENCIA"
        base = lowered.split("_")[0]
        if base in LANGUAGES:
            return base
    return None


def language_tag(locale: str) -> str:
    """The BCP 47 tag of a catalogue's locale, for ``<html lang>`` and discovery:
    Babel names Valencian ``ca_ES_VALENCIA``; BCP 47 writes variants in lower case."""
    language, *rest = locale.split("_")
    subtags = [part if len(part) == 2 else part.lower() for part in rest]
    return "-".join([language, *subtags])


def select_locale() -> str:
    """The language of this page: the one this request's ``ui_locales`` asks for, then the
    one chosen earlier in the visit (the switcher's or an RP's, kept in a cookie), then the
    pending authorization request's ``ui_locales`` (for a browser that refuses the cookie),
    then the browser's, then the default. The cookie ranks above the pending request so
    that the switcher still works on the pages of an RP's login."""
    return (
        asked_locale()
        or locale_from_tags(request.cookies.get(LANGUAGE_COOKIE))
        or g.get("pending_locale")
        or _from_accept_language()
        or current_app.config["IDP_DEFAULT_LOCALE"]
    )


def asked_locale() -> str | None:
    """The language this request's ``ui_locales`` asks for: the RP's at ``/authorize`` (sent
    in the query or the form), or any page's query."""
    return g.get("ui_locale") or locale_from_tags(request.args.get("ui_locales"))


def remember_language(response: Response, locale: str, *, max_age: int | None = None) -> None:
    """Keep ``locale`` for the pages that follow: for the visit (a session cookie) unless
    ``max_age`` says longer. Only ever read by this site (HttpOnly, Lax)."""
    response.set_cookie(LANGUAGE_COOKIE, locale, max_age=max_age, path="/", samesite="Lax",
                        httponly=True, secure=current_app.config["IDP_SECURE_COOKIES"])


def rendered_locale() -> str:
    """The language the page's text is actually in: that of the catalogue loaded, or English,
    the language of the source strings, when no compiled catalogue was found for the chosen
    language (a Valencian page may come from the Catalan one). For ``<html lang>``."""
    from flask_babel import get_translations

    loaded = getattr(get_translations(), "files", [])
    return Path(loaded[0]).parents[1].name if loaded else SOURCE_LOCALE


def _from_accept_language() -> str | None:
    """The browser's most preferred supported language (``ca-ES-valencia`` included)."""
    for tag, quality in request.accept_languages:
        if quality > 0 and tag != "*" and (locale := locale_from_tags(tag)):
            return locale
    return None


def configure_sqlite(app: Flask) -> None:
    from idp.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def allow_large_body(app: Flask, endpoint: str, setting: str) -> None:
    """Let ``endpoint`` take a body of up to the size named by ``setting`` (and its form
    fields) instead of ``MAX_CONTENT_LENGTH``."""
    app.extensions.setdefault(_LARGE_BODIES, {})[endpoint] = setting


def init_request_checks(app: Flask) -> None:
    """What every request goes through before anything else reads it. Called before the
    extensions are initialised, so that these hooks run before theirs (CSRF's among them)."""

    @app.before_request
    def _request_id() -> None:
        g.request_id = request_id(request.environ)

    @app.before_request
    def _large_bodies() -> None:
        # Before CSRF's hook reads the form: the limit applies from the first read.
        setting = app.extensions.get(_LARGE_BODIES, {}).get(request.endpoint)
        if setting is not None:
            request.max_content_length = app.config[setting] + FORM_ALLOWANCE

    @app.before_request
    def _refuse_malformed_host() -> Response | None:
        # Werkzeug builds every address from the Host (after ProxyFix: the forwarded one):
        # on some malformed values it has no URL adapter at all (BadHost), on others it
        # quietly uses an empty host, which Authlib then takes for an insecure transport.
        # Without a Host the server's own name is used: HTTP/1.0 probes keep working.
        host = request.environ.get("HTTP_HOST")
        if host is None or well_formed_host(host):
            return None
        log.warning("refused a malformed Host header: %r", host[:100])
        if request.path.startswith(JSON_PATHS):
            response = jsonify(error="invalid_request", error_description="The Host header is not valid.")
            response.status_code = 400
            return response
        # plain: no address is built (no links, no stylesheet, no language form), as the
        # URL adapter may not exist; nor is the session touched, so no cookie is set.
        return make_response(render_template("error.html", status=400, plain=True), 400)


def init_web(app: Flask) -> None:
    app.session_interface = rendering.SessionCookies()
    always = security_headers(app.config["IDP_SECURE_COOKIES"])
    policy = always.pop("Content-Security-Policy")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.update(always)
        asked = asked_locale()
        if (asked and response.status_code < 400
                and asked != locale_from_tags(request.cookies.get(LANGUAGE_COOKIE))):
            remember_language(response, asked)  # the RP's choice, for the rest of the visit
        if response.mimetype in ("text/html", "application/json"):
            # Pages and API answers are personal (an enrollment token, a challenge's
            # details): never cached unless the view says so (discovery, JWKS).
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):  # type: ignore[no-untyped-def]
        abandon()
        return render_template("error.html", message_key="csrf_failed", status=400), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):  # type: ignore[no-untyped-def]
        abandon()
        if request.path.startswith(API_PATHS):
            # No route of an API matched (an unknown path, an empty id): its clients read
            # JSON, as from the routes that did.
            return jsonify(error=(error.name or "error").lower().replace(" ", "_"),
                           error_description=error.description), error.code
        return render_template("error.html", http_error=error, status=error.code), error.code

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_down(error: Exception):  # type: ignore[no-untyped-def]
        # Unreachable, restarting or saturated: the pool reconnects by itself (pre-ping) once
        # the database answers again, so this process stays alive (/healthz) and says when
        # to come back; /readyz tells the load balancer meanwhile.
        log.error("database unavailable: %s", error.__class__.__name__)
        abandon()
        if request.path.startswith(JSON_PATHS):
            response = jsonify(error="temporarily_unavailable",
                               error_description="The service is not available right now.")
            response.status_code = 503
        else:
            response = make_response(render_template("error.html", unavailable=True, status=503), 503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(DataError)
    def _refused_value(error: DataError):  # type: ignore[no-untyped-def]
        # PostgreSQL refuses some values SQLite stores (a NUL byte, an integer out of range,
        # a string longer than its column): sent by the client, so its error, not ours.
        log.warning("value refused by the database: %s (SQLSTATE %s)", error.orig.__class__.__name__,
                    getattr(error.orig, "sqlstate", None))
        abandon()
        if request.path.startswith(JSON_PATHS):  # its clients read JSON, as from the route
            return jsonify(error="invalid_request",
                           error_description="A value in the request is not valid."), 400
        return render_template("error.html", status=400), 400

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error (request %s)", g.get("request_id"))
        abandon()
        if request.path.startswith(JSON_PATHS):
            return jsonify(error="server_error", error_description="An unexpected error occurred."), 500
        return render_template("error.html", status=500), 500

    @app.context_processor
    def _template_globals() -> dict[str, object]:
        from flask_babel import get_locale

        current = str(get_locale() or app.config["IDP_DEFAULT_LOCALE"])
        return {"languages": LANGUAGES, "current_locale": current, "page_locale": rendered_locale(),
                "language_tag": language_tag}

    app.jinja_env.install_gettext_callables(
        gettext=lambda string: rendering.translations().ugettext(string),
        ngettext=lambda singular, plural, n: rendering.translations().ungettext(singular, plural, n),
        pgettext=lambda context, string: rendering.translations().upgettext(context, string),
        npgettext=lambda context, one, many, n: rendering.translations().unpgettext(context, one, many, n),
        newstyle=True)
    # A page calls gettext for each of its ~50 strings: Jinja's newstyle wrapper (and its
    # ``_`` alias in front of it) calls the catalogue through the template context and
    # formats even a string without values.
    app.jinja_env.globals["gettext"] = app.jinja_env.globals["_"] = rendering.gettext
    app.jinja_env.globals["url_for"] = rendering.page_urls(app)

    from idp import durations, passwords
    from idp.messages import message

    app.jinja_env.globals.update(message=message, public_url=public_url,
                                 password_checklist=passwords.checklist,
                                 password_lifetime=durations.password_lifetime,
                                 password_policy=passwords)
