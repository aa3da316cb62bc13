"""Turn what the session keeps into what the home page shows: formatting only, no I/O."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .oidc import decode_jwt_payload, userinfo_claims

LEVELS: dict[str, tuple[int, str]] = {
    "http://eidas.europa.eu/LoA/low": (1, "Low"),
    "http://eidas.europa.eu/LoA/substantial": (2, "Substantial"),
    "http://eidas.europa.eu/LoA/high": (3, "High"),
}
# RFC 8176 method references the IdP uses.
AUTH_METHODS = {
    "pwd": "password",
    "sms": "one-time code by SMS",
    "otp": "one-time password",
    "mfa": "multiple factors",
    "swk": "key held by the Cl@ve app",
    "hwk": "hardware key",
    "user": "user presence confirmed",
    "pin": "PIN",
}
CLAIM_LABELS = {
    "iss": "Issuer",
    "sub": "Subject (pseudonymous for this site)",
    "aud": "Audience",
    "azp": "Authorised party",
    "exp": "Expires",
    "iat": "Issued",
    "nbf": "Not before",
    "auth_time": "Authenticated",
    "nonce": "Nonce",
    "acr": "Level of assurance",
    "amr": "Authentication methods",
    "sid": "Cl@ve session id",
    "at_hash": "Access token hash",
    "name": "Full name",
    "given_name": "Given name",
    "family_name": "Surnames",
    "first_surname": "First surname",
    "second_surname": "Second surname",
    "birthdate": "Date of birth",
    "email": "E-mail",
    "email_verified": "E-mail verified",
    "phone_number": "Phone number",
    "phone_number_verified": "Phone number verified",
    "document_number": "Document number",
    "document_type": "Document type",
    "person_identifier": "eIDAS person identifier",
}
TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})
LANGUAGES = [
    ("", "Browser default"),
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
        acr_label=LEVELS.get(acr, (0, "Unknown level"))[1],
        requested_acr=requested_acr,
        below_requested=_rank(acr) < _rank(requested_acr),
        auth_methods=[(m, AUTH_METHODS.get(m, "other method")) for m in claims.get("amr", [])],
        access_token_expiry=_expiry(bundle.get("expires_at"), now),
        id_token_expiry=_expiry(claims.get("exp"), now),
        has_refresh_token=bool(bundle.get("refresh_token")),
        scope=bundle.get("scope"),
        refreshed_at=format_time(bundle["refreshed_at"]) if bundle.get("refreshed_at") else None,
    )


def expiry_sentence(bundle: Mapping[str, Any], now: float | None = None) -> str:
    now = time.time() if now is None else now
    id_claims = decode_jwt_payload(bundle["id_token"])
    return (f"New access token expires {_expiry(bundle.get('expires_at'), now)}; "
            f"ID token expires {_expiry(id_claims.get('exp'), now)}.")


def format_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rank(acr: str | None) -> int:
    return LEVELS.get(acr or "", (0, ""))[0]


def _expiry(timestamp: Any, now: float) -> str:
    if not isinstance(timestamp, int | float):
        return "not stated"
    seconds = int(timestamp - now)
    if seconds <= 0:
        return f"at {format_time(timestamp)} (expired)"
    minutes, seconds = divmod(seconds, 60)
    left = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    return f"at {format_time(timestamp)} (in {left})"


def _rows(claims: Mapping[str, Any]) -> list[ClaimRow]:
    registered = [name for name in CLAIM_LABELS if name in claims]
    others = sorted(name for name in claims if name not in CLAIM_LABELS)
    return [ClaimRow(name, CLAIM_LABELS.get(name, ""), _show(name, claims[name]))
            for name in registered + others]


def _show(name: str, value: Any) -> str:
    if name in TIME_CLAIMS and isinstance(value, int | float):
        return f"{format_time(value)} ({value})"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)
