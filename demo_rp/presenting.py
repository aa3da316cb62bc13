"""Turn what the session keeps into what the home page shows: formatting only, no I/O."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .oidc import decode_jwt_payload, userinfo_claims

LEVELS: dict[str, tuple[int, str]] = {
    "http://eidas.europa.eu/LoA/low": (1, _l("Low")),
    "http://eidas.europa.eu/LoA/substantial": (2, _l("Substantial")),
    "http://eidas.europa.eu/LoA/high": (3, _l("High")),
}
# RFC 8176 method references the IdP uses.
AUTH_METHODS = {
    "pwd": _l("password"),
    "sms": _l("one-time code by SMS"),
    "otp": _l("one-time password"),
    "mfa": _l("multiple factors"),
    "swk": _l("key held by the Cl@ve app"),
    "hwk": _l("hardware key"),
    "user": _l("user presence confirmed"),
    "pin": _l("PIN"),
}
CLAIM_LABELS = {
    "iss": _l("Issuer"),
    "sub": _l("Subject (pseudonymous for this site)"),
    "aud": _l("Audience"),
    "azp": _l("Authorised party"),
    "exp": _l("Expires"),
    "iat": _l("Issued"),
    "nbf": _l("Not before"),
    "auth_time": _l("Authenticated"),
    "nonce": _l("Nonce"),
    "acr": _l("Level of assurance"),
    "amr": _l("Authentication methods"),
    "sid": _l("Cl@ve session id"),
    "at_hash": _l("Access token hash"),
    "name": _l("Full name"),
    "given_name": _l("Given name"),
    "family_name": _l("Surnames"),
    "first_surname": _l("First surname"),
    "second_surname": _l("Second surname"),
    "birthdate": _l("Date of birth"),
    "email": _l("E-mail"),
    "email_verified": _l("E-mail verified"),
    "phone_number": _l("Phone number"),
    "phone_number_verified": _l("Phone number verified"),
    "document_number": _l("Document number"),
    "document_type": _l("Document type"),
    "person_identifier": _l("eIDAS person identifier"),
}
TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})
# The language asked of Cl@ve (ui_locales): each in its own name, as a switcher shows them.
LANGUAGES = [
    ("", _l("As in your browser")),
    ("es", "Español"),
    ("ca", "Català"),
    ("gl", "Galego"),
    ("eu", "Euskara"),
    ("ca-ES-valencia", "Valencià"),
    ("en", "English"),
]


@dataclass(frozen=True)
class ClaimRow:
    name: str
    label: str
    value: str


@dataclass(frozen=True)
class LoginView:
    claims: list[ClaimRow]
    userinfo: list[ClaimRow] | None
    userinfo_error: str | None
    acr: str
    acr_label: str
    requested_acr: str | None
    below_requested: bool
    auth_methods: list[tuple[str, str]]
    access_token_expiry: str
    id_token_expiry: str
    has_refresh_token: bool
    scope: str | None
    refreshed_at: str | None


def present_login(bundle: Mapping[str, Any], requested_acr: str | None,
                  now: float | None = None) -> LoginView:
    now = time.time() if now is None else now
    claims = decode_jwt_payload(bundle["id_token"])
    userinfo = userinfo_claims(bundle)
    acr = str(claims.get("acr", ""))
    return LoginView(
        claims=_rows(claims),
        userinfo=_rows(userinfo) if userinfo is not None else None,
        userinfo_error=bundle.get("userinfo_error"),
        acr=acr,
        acr_label=str(LEVELS[acr][1]) if acr in LEVELS else _("Unknown level"),
        requested_acr=requested_acr,
        below_requested=_rank(acr) < _rank(requested_acr),
        auth_methods=[(m, str(AUTH_METHODS[m]) if m in AUTH_METHODS else _("other method"))
                      for m in claims.get("amr", [])],
        access_token_expiry=_expiry(bundle.get("expires_at"), now),
        id_token_expiry=_expiry(claims.get("exp"), now),
        has_refresh_token=bool(bundle.get("refresh_token")),
        scope=bundle.get("scope"),
        refreshed_at=format_time(bundle["refreshed_at"]) if bundle.get("refreshed_at") else None,
    )


def expiry_sentence(bundle: Mapping[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    id_claims = decode_jwt_payload(bundle["id_token"])
    return _("New access token expires %(access)s; ID token expires %(id)s.",
             access=_expiry(bundle.get("expires_at"), now), id=_expiry(id_claims.get("exp"), now))


def format_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rank(acr: str | None) -> int:
    return LEVELS.get(acr or "", (0, ""))[0]


def _expiry(timestamp: Any, now: float) -> str:
    if not isinstance(timestamp, int | float):
        return _("not stated")
    seconds = int(timestamp - now)
    if seconds <= 0:
        return _("at %(time)s (expired)", time=format_time(timestamp))
    minutes, seconds = divmod(seconds, 60)
    left = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    return _("at %(time)s (in %(left)s)", time=format_time(timestamp), left=left)


def _rows(claims: Mapping[str, Any]) -> list[ClaimRow]:
    registered = [name for name in CLAIM_LABELS if name in claims]
    others = sorted(name for name in claims if name not in CLAIM_LABELS)
    return [ClaimRow(name, str(CLAIM_LABELS.get(name, "")), _show(name, claims[name]))
            for name in registered + others]


def _show(name: str, value: Any) -> str:
    if name in TIME_CLAIMS and isinstance(value, int | float):
        return f"{format_time(value)} ({value})"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)
