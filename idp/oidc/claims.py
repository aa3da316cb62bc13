"""Which claims a scope or a ``claims`` request releases, and their values. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Protocol

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name", "first_surname", "second_surname",
                "birthdate"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "national_id": ("document_number", "document_type", "person_identifier"),
}
SCOPES = tuple(SCOPE_CLAIMS)
RELEASABLE = frozenset(claim for claims in SCOPE_CLAIMS.values() for claim in claims)


class ClaimsRequestError(ValueError):
    pass


class CitizenLike(Protocol):
    id: int
    document: str
    document_type: str
    given_name: str
    first_surname: str
    second_surname: str | None
    birthdate: Any
    email: str
    phone: str


def parse_claims_request(raw: str | None) -> dict[str, dict[str, Any]]:
    """The OIDC ``claims`` parameter, reduced to the members we understand."""
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:  # deep nesting exhausts the parser's stack
        raise ClaimsRequestError("claims is not valid JSON") from error
    if not isinstance(data, dict):
        raise ClaimsRequestError("claims must be a JSON object")
    parsed: dict[str, dict[str, Any]] = {}
    for target in ("userinfo", "id_token"):
        section = data.get(target) or {}
        if not isinstance(section, dict):
            raise ClaimsRequestError(f"claims.{target} must be an object")
        parsed[target] = {
            name: spec if isinstance(spec, dict) else None
            for name, spec in section.items()
            if isinstance(name, str) and (name in RELEASABLE or name == "acr")
        }
    return parsed


def requested_claims(scope: str, claims_request: dict[str, dict[str, Any]]) -> list[str]:
    """Every claim the client asks for through scopes or the ``claims`` parameter."""
    names: list[str] = []
    for scope_name in scope.split():
        names.extend(SCOPE_CLAIMS.get(scope_name, ()))
    for section in claims_request.values():
        names.extend(name for name in section if name in RELEASABLE)
    return sorted(set(names) - {"sub"})


def scope_claims(scopes: list[str] | set[str]) -> frozenset[str]:
    """The claims a client registered for these scopes may ever receive."""
    return frozenset(claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ()))


def limit_claims_request(claims_request: dict[str, dict[str, Any]],
                         scopes: list[str] | set[str]) -> dict[str, dict[str, Any]]:
    """The ``claims`` request cut to what the client's registered scopes allow (``acr``
    stays: it asks for a level, not for data), so the parameter cannot reach past them."""
    allowed = scope_claims(scopes) | {"acr"}
    return {target: {name: spec for name, spec in section.items() if name in allowed}
            for target, section in claims_request.items()}


def requested_acr(claims_request: dict[str, dict[str, Any]]) -> list[str]:
    spec = claims_request.get("id_token", {}).get("acr") or {}
    values = spec.get("values") or ([spec["value"]] if "value" in spec else [])
    return [value for value in values if isinstance(value, str)]


def subject(citizen_id: int, *, sector: str, public: bool, secret: bytes) -> str:
    """Pairwise ``sub`` per sector by default, so RPs cannot correlate citizens."""
    context = "public" if public else f"sector:{sector}"
    digest = hmac.new(secret, f"sub|{context}|{citizen_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def claim_values(citizen: CitizenLike) -> dict[str, Any]:
    family = " ".join(s for s in (citizen.first_surname, citizen.second_surname) if s)
    return {
        "name": f"{citizen.given_name} {family}",
        "given_name": citizen.given_name,
        "family_name": family,
        "first_surname": citizen.first_surname,
        "second_surname": citizen.second_surname,
        "birthdate": citizen.birthdate.isoformat() if citizen.birthdate else None,
        "email": citizen.email,
        "email_verified": True,  # checked by the registration office or the certificate
        "phone_number": citizen.phone,
        "phone_number_verified": True,
        "document_number": citizen.document,
        "document_type": citizen.document_type,
        "person_identifier": f"ES/ES/{citizen.document}",
    }


def release(citizen: CitizenLike, names: list[str] | set[str]) -> dict[str, Any]:
    values = claim_values(citizen)
    return {name: values[name] for name in sorted(names) if values.get(name) is not None}
