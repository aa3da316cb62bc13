"""Every ``IDP_*`` setting, its default and what it means, in one place.

The README's configuration table is checked against ``SETTINGS`` by a test, so a setting
added here without documentation (or documented but gone) fails the suite.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


SETTINGS: tuple[Setting, ...] = (
    Setting("IDP_ISSUER", "http://127.0.0.1:5000", "Public issuer URL (no trailing slash)."),
    Setting(
        "IDP_DATABASE_URL",
        "sqlite:///instance/idp.sqlite3",
        "SQLAlchemy URL; SQLite by default, `postgresql+psycopg://…` in production.",
    ),
    Setting(
        "IDP_SECRET_KEY",
        "",
        "Signs cookies and keys the hashes of codes, tokens and OTPs. Generated into "
        "`instance/secret_key` when empty.",
    ),
    Setting("IDP_KEYS_DIR", "keys", "Directory of the ID-token signing keys (created at init)."),
    Setting("IDP_KEYS_PASSPHRASE", "", "Encrypts the private signing keys on disk when set."),
    Setting(
        "IDP_SMS_BACKEND",
        "console",
        "`console` (development: prints the SMS to stderr), `file:PATH` (one JSON line per SMS) "
        "or `http` (gateway).",
    ),
    Setting("IDP_SMS_HTTP_URL", "", "URL the `http` SMS backend POSTs `{to, text}` to."),
    Setting("IDP_SMS_HTTP_TOKEN", "", "Bearer token sent to the HTTP SMS gateway."),
    Setting("IDP_SMS_HTTP_TIMEOUT", 5.0, "Seconds before the HTTP SMS gateway counts as down.", float),
    Setting("IDP_TRUSTED_CA_FILE", "", "PEM bundle of CAs trusted for certificate registration."),
    Setting(
        "IDP_CLIENT_CERT_HEADER",
        "X-SSL-Client-Cert",
        "Header in which the TLS terminator passes the client certificate (URL-encoded PEM).",
    ),
    Setting(
        "IDP_TRUSTED_PROXIES",
        "",
        "Comma-separated addresses or CIDR networks allowed to send that header; empty: never "
        "trusted.",
    ),
    Setting("IDP_ARGON2_MEMORY_KIB", 19456, "argon2id memory cost in KiB (OWASP minimum).", int),
    Setting("IDP_ARGON2_TIME_COST", 2, "argon2id iterations.", int),
    Setting("IDP_ARGON2_PARALLELISM", 1, "argon2id lanes.", int),
    Setting("IDP_ARGON2_CONCURRENCY", 1,
            "argon2id computations at once per worker process (each holds its memory cost); "
            "run about one worker per core.", int),
    Setting("IDP_ACCESS_TOKEN_TTL", 600, "Access-token lifetime in seconds.", int),
    Setting("IDP_ID_TOKEN_TTL", 600, "ID-token lifetime in seconds.", int),
    Setting("IDP_REFRESH_TOKEN_TTL", 2592000, "Refresh-token lifetime in seconds (30 days).", int),
    Setting("IDP_CODE_TTL", 60, "Authorization-code lifetime in seconds.", int),
    Setting("IDP_CLIENT_CACHE_SECONDS", 30,
            "Seconds each process keeps a relying party's registration once read: a change "
            "to it (disabled, a new secret, other scopes) reaches every process within this "
            "time. 0: read on every request.", int),
    Setting("IDP_SESSION_TTL", 28800, "Single sign-on session lifetime in seconds.", int),
    Setting("IDP_SESSION_IDLE_TIMEOUT", 1800,
            "Seconds a single sign-on session lasts without being used; then the citizen "
            "logs in again.", int),
    Setting("IDP_INTERACTION_TTL", 900, "Seconds a pending authorization request waits.", int),
    Setting("IDP_OTP_TTL", 300, "SMS one-time code lifetime in seconds.", int),
    Setting("IDP_OTP_MAX_TRIES", 3, "Wrong tries allowed per SMS code.", int),
    Setting("IDP_OTP_RESEND_INTERVAL", 30,
            "Seconds before a flow can send another SMS code (its first one is sent at once).", int),
    Setting("IDP_OTP_MAX_WRONG_CODES", 10,
            "Wrong SMS codes a citizen may enter within `IDP_OTP_LOCK_SECONDS`, over every code, "
            "flow and purpose; the last one locks their SMS codes.", int),
    Setting("IDP_OTP_LOCK_SECONDS", 3600,
            "How long a citizen's SMS codes stay locked (no code sent or accepted), and the "
            "window in which wrong codes are counted.", int),
    Setting("IDP_PASSKEY_CHALLENGE_TTL", 300,
            "Seconds a passkey challenge (of a login page or the account page) can be answered, "
            "once.", int),
    Setting("IDP_PASSWORD_MAX_FAILURES", 5, "Consecutive wrong passwords that block it.", int),
    Setting("IDP_ACTIVATION_MAX_FAILURES", 5, "Wrong activation codes tolerated before blocking.", int),
    Setting("IDP_PASSWORD_LIFETIME_DAYS", 730, "Days a password stays valid (2 years).", int),
    Setting(
        "IDP_RATE_LIMITS",
        "login.ip=30/300 login.document=10/300 activation.ip=20/300 activation.document=10/3600 "
        "otp.ip=30/300 sms.citizen=10/3600 sms.ip=60/3600 push.ip=20/300 push.document=5/300 "
        "enrollment.ip=20/300 enrollment.document=10/3600 reset.ip=20/300 reset.document=10/3600 "
        "device.ip=30/300 client_auth.ip=30/300 client_auth.client=60/300 passkey.ip=30/300 "
        "passkey.credential=10/300 signature.client=100/300 signature.citizen=20/3600",
        "Named limits `action.subject=COUNT/SECONDS`, counted on failed attempts (`push`: on "
        "every request; `sms.*`: every SMS code sent, per citizen and per address; "
        "`signature.client`: every signature request a client makes; `signature.citizen`: "
        "every signature a citizen asks to authorise): a slot is "
        "taken before each attempt and given back when it succeeds; with none left the attempt "
        "is refused (429) unchecked.",
    ),
    Setting(
        "IDP_FIRMA_REQUEST_TTL",
        900,
        "Seconds a signature request (Cl@ve Firma) waits for the citizen, and then for its one "
        "download.",
        int,
    ),
    Setting(
        "IDP_DEV_LOOPBACK_CLIENT_URIS",
        False,
        "Development only: let a client's `jwks_uri` and `backchannel_logout_uri` be "
        "`http://127.0.0.1`/`localhost` (loopback) for local demos and tests. Off: https on "
        "public addresses only.",
        _bool,
    ),
    Setting("IDP_FIRMA_KEY_TYPE", "P-256",
            "Cl@ve Firma: the key each citizen signs with, made at their first signature "
            "(`P-256` or `RSA-3072`); also the Cl@ve Firma CA's, made by `idp init`."),
    Setting("IDP_FIRMA_CERTIFICATE_DAYS", 730,
            "Cl@ve Firma: days a citizen's signing certificate is valid (at most 730, 2 years).",
            int),
    Setting("IDP_FIRMA_SEAL_SECRET", "",
            "Cl@ve Firma: secret from which the key-encryption key sealing the citizens' private "
            "keys in the database is derived (HKDF). Empty: `IDP_SECRET_KEY`; changing it makes "
            "every sealed key unusable."),
    Setting("IDP_FIRMA_MAX_PDF_BYTES", 10485760, "Cl@ve Firma: largest PDF accepted for signing.",
            int),
    Setting("IDP_TSA_URL", "",
            "Cl@ve Firma: RFC 3161 time-stamping service; when set, signatures are PAdES/CAdES "
            "baseline B-T (time-stamped) instead of B-B."),
    Setting("IDP_SIGNING_ALG", "RS256", "Default ID-token algorithm (`RS256` or `ES256`)."),
    Setting("IDP_DEFAULT_LOCALE", "es", "Language when nothing else chooses one."),
    Setting(
        "IDP_PROXY_COUNT",
        0,
        "Reverse proxies in front of the app whose `X-Forwarded-Proto`, `-Host` and `-For` "
        "are trusted (the scheme, host and client address then come from them). Behind a TLS "
        "proxy at least 1: the protocol refuses plain HTTP but on loopback.",
        int,
    ),
    Setting("IDP_SECURE_COOKIES", False, "Mark cookies `Secure` (turn on behind HTTPS).", _bool),
    Setting("IDP_LOG_JSON", False, "Write logs as one JSON object per line.", _bool),
    Setting("IDP_METRICS_BIND", "",
            "`HOST:PORT` on which `idp serve` answers `GET /metrics` (Prometheus), apart from the "
            "site: e.g. `127.0.0.1:9464`. Empty: no such address."),
    Setting("IDP_METRICS_TOKEN", "",
            "Bearer token a scrape of `/metrics` must send, on the site and on "
            "`IDP_METRICS_BIND`. Empty: the site has no `/metrics` (404). With neither, "
            "requests are not even counted."),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}


def load(environ: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Read every setting from the environment; keyword overrides win (tests use them)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name)
        values[setting.name] = setting.default if raw in (None, "") else setting.parse(raw)
    for name, value in overrides.items():
        if name not in BY_NAME:
            raise KeyError(f"unknown setting {name}")
        values[name] = value
    values["IDP_ISSUER"] = values["IDP_ISSUER"].rstrip("/")
    return values
