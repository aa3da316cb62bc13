"""Application factory and ``idp-demo-rp`` console script for the demo relying party."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_babel import Babel, get_translations
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadHost, HTTPException
from werkzeug.wrappers import Response

from .oidc import ClaveProvider, ProviderProblem
from .settings import ConfigurationError, DemoSettings, load_settings
from .views import bp

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WORKERS = 2
# A Spanish municipality's site: Spanish unless the browser prefers English. Its own texts
# are written in English (the source language, as the IdP's) and translated by its own small
# catalogue in demo_rp/translations, with the IdP's tool chain (Flask-Babel, pybabel).
LOCALES = ("es", "en")
SOURCE_LOCALE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"
HTTP_TITLES = {400: _l("Bad request"), 404: _l("Page not found"), 405: _l("Method not allowed")}
# Werkzeug's own descriptions are in English; the 400s this site raises are its own sentences.
HTTP_MESSAGES = {404: _l("This page does not exist."),
                 405: _l("This address does not accept that kind of request.")}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the demo RP. ``config`` overrides the ``DEMO_RP_*`` environment and Flask config."""
    config = dict(config or {})
    settings = load_settings(config)

    if _is_loopback_http(settings.issuer):
        # Authlib's transport check (authlib.common.security.is_secure_transport) rejects
        # plain-HTTP OAuth URLs unless AUTHLIB_INSECURE_TRANSPORT is set. The development IdP
        # listens on loopback without TLS, so allow it there and only there: the variable is
        # process-wide, and any other issuer must keep the check.
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

    app = Flask(__name__)
    app.secret_key = settings.secret_key
    app.config.update(
        # The IdP runs on the same host; cookies are not isolated by port, so the name must
        # differ from every cookie the IdP sets.
        SESSION_COOKIE_NAME="demo_rp_session",
        SESSION_COOKIE_HTTPONLY=True,
        # Lax, not Strict: the browser must send the cookie on the redirect back from Cl@ve.
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
    )
    app.config.update({k: v for k, v in config.items() if not k.startswith("DEMO_RP_")})
    app.config.update(BABEL_DEFAULT_LOCALE=LOCALES[0], BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS))
    Babel(app, locale_selector=_browser_locale)
    app.context_processor(lambda: {"page_language": _page_language()})

    app.extensions["demo_rp"] = ClaveProvider(app, settings)
    app.register_blueprint(bp)
    app.register_error_handler(ProviderProblem, _provider_problem_page)
    app.register_error_handler(HTTPException, _http_error_page)
    app.after_request(_security_headers(settings))
    return app


def _browser_locale() -> str:
    return request.accept_languages.best_match(LOCALES) or LOCALES[0]


def _page_language() -> str:
    """The language of the text: the catalogue's, or English when none was loaded."""
    loaded = getattr(get_translations(), "files", [])
    return Path(loaded[0]).parents[1].name if loaded else SOURCE_LOCALE


def _provider_problem_page(problem: ProviderProblem) -> tuple[str, int]:
    return render_template("error.html", title=problem.title, message=problem.message,
                           detail=problem.detail), problem.status


def _http_error_page(error: HTTPException) -> tuple[str, int]:
    if isinstance(error, BadHost):
        # Werkzeug could not read the Host (a label over 63 characters...) and left the
        # request without a URL adapter: the page, which builds links, cannot be rendered.
        return "Bad Request: the Host header is malformed.", 400
    code = error.code or 500
    return render_template("error.html", title=HTTP_TITLES.get(code, error.name),
                           message=HTTP_MESSAGES.get(code, error.description), detail=None), code


def _security_headers(settings: DemoSettings) -> Any:
    issuer_origin = "{0.scheme}://{0.netloc}".format(urlsplit(settings.issuer))
    policy = (
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        # The login form's GET to /login is redirected to Cl@ve: browsers apply form-action
        # to that redirect too.
        f"form-action 'self' {issuer_origin}; frame-ancestors 'none'"
    )

    def add_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # The callback URL carries the authorization code: never leak it as a referrer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            # Pages show personal data and tokens.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return add_headers


def _is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def main(argv: Sequence[str] | None = None) -> None:
    """``idp-demo-rp``: serve the demo RP with gunicorn."""
    parser = argparse.ArgumentParser(
        prog="idp-demo-rp",
        description="Run the demo relying party (a government web app that logs in with Cl@ve).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5001, help="port to listen on")
    args = parser.parse_args(argv)

    from gunicorn.app.base import BaseApplication

    class DemoServer(BaseApplication):
        def __init__(self, application: Flask, options: dict[str, Any]):
            self.application = application
            self.options = options
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:
                # Gunicorn 27+ opens a control socket at one per-user path: the IdP's gunicorn
                # on the same machine would have it taken over and then removed by ours.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Flask:
            return self.application

    host = f"[{args.host}]" if ":" in args.host else args.host
    # Built once, before the workers fork, so that configuration errors stop the command.
    try:
        application = create_app()
    except ConfigurationError as exc:
        parser.exit(2, f"idp-demo-rp: {exc}\n")
    DemoServer(application, {"bind": f"{host}:{args.port}", "workers": WORKERS,
                             "worker_class": "gthread", "threads": 4, "accesslog": "-"}).run()


if __name__ == "__main__":
    main()
