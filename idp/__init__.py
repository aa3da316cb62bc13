"""Clave IdP: an OpenID Connect identity provider for public services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.engine import make_url

from idp import settings, sqlite_pool
from idp.files import create_empty_private, create_private, private_dir, tighten


def create_app(**overrides: Any) -> Flask:
    """Build the app from the ``IDP_*`` environment; keyword overrides win (tests)."""
    app = Flask(__name__, instance_path=str(Path.cwd() / "instance"))
    config = settings.load(**overrides)
    app.config.update(config)
    from idp.logs import configure_logging

    configure_logging(app)  # first: what the start finds wrong in the files goes to the log
    _ensure_secret_key(app)
    database_url = _database_url(app)
    app.config.update(
        SECRET_KEY=app.config["IDP_SECRET_KEY"],
        SQLALCHEMY_DATABASE_URI=database_url,
        # A SQLite file: one connection per process, kept warm (idp.sqlite_pool). A server
        # database's connections are pinged when they may be stale (idp.connections, below).
        SQLALCHEMY_ENGINE_OPTIONS=sqlite_pool.engine_options(database_url),
        # __Host-: only over HTTPS, for this host, for the whole site (no Domain attribute).
        SESSION_COOKIE_NAME="__Host-idp_session" if config["IDP_SECURE_COOKIES"] else "idp_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config["IDP_SECURE_COOKIES"],
        PERMANENT_SESSION_LIFETIME=config["IDP_SESSION_TTL"],
        WTF_CSRF_TIME_LIMIT=config["IDP_INTERACTION_TTL"],
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=64 * 1024,
        BABEL_DEFAULT_LOCALE=config["IDP_DEFAULT_LOCALE"],
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
    )

    from idp import web

    web.init_request_checks(app)
    from idp.extensions import babel, csrf, db

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        web.configure_sqlite(app)
    else:  # a server can drop connections (restart, failover); a SQLite file cannot
        from idp.connections import ping_when_idle

        with app.app_context():
            ping_when_idle(db.engine)
    web.init_web(app)

    from idp.ratelimit import DatabaseRateLimiter

    app.extensions["idp.ratelimiter"] = DatabaseRateLimiter()

    from idp.oidc import init_oidc

    init_oidc(app)

    from idp.flows import register_flows

    register_flows(app)
    from idp.firma import init_firma

    init_firma(app)
    from idp import unit_of_work

    unit_of_work.init_app(app)  # after the blueprints: its after_request hook runs first
    from idp import transport
    from idp.metrics.web import init_metrics

    init_metrics(app)  # around every layer but ProxyFix: it counts the published documents too

    transport.trust_proxies(app)  # last: outermost, so every layer sees the forwarded scheme and host
    return app


def _ensure_secret_key(app: Flask) -> None:
    if app.config["IDP_SECRET_KEY"]:
        return
    import secrets

    path = private_dir(Path(app.instance_path)) / "secret_key"
    # False: there already is one (made by an earlier start, or by a worker starting now).
    if not create_private(path, secrets.token_urlsafe(48).encode()):
        tighten(path)
    app.config["IDP_SECRET_KEY"] = path.read_text().strip()


def _database_url(app: Flask) -> str:
    """The database URL, a relative SQLite path made absolute; a SQLite file is created
    here, 0600, before SQLite would create it with the umask's mode. SQLite gives its
    ``-wal`` and ``-shm`` files the mode of the database file."""
    raw: str = app.config["IDP_DATABASE_URL"]
    url = make_url(raw)
    if (url.get_backend_name() != "sqlite" or not url.database or ":memory:" in url.database
            or "uri" in url.query):
        return raw
    path = Path.cwd() / url.database
    private_dir(path.parent)
    if not create_empty_private(path):
        for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            tighten(existing)
    return url.set(database=str(path)).render_as_string(hide_password=False)
