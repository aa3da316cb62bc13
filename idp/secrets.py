"""Random secrets and the keyed hashes we store instead of them.

Codes, tokens, OTPs and activation codes are never stored in clear: only
HMAC-SHA256 under a key derived from the application secret, so a database dump
alone does not let anyone redeem them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from flask import current_app

ACTIVATION_ALPHABET = "ACDEFGHJKLMNPQRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B


def random_token(nbytes: int = 32) -> str:
    """URL-safe token; 32 bytes = 256 bits, well above the 128 the spec asks for."""
    return secrets.token_urlsafe(nbytes)


def random_digits(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def activation_code(groups: int = 4, size: int = 4) -> str:
    """16 characters from an unambiguous alphabet, grouped as XXXX-XXXX-XXXX-XXXX."""
    return "-".join(
        "".join(secrets.choice(ACTIVATION_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def normalise_activation_code(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())[:64]


@lru_cache(maxsize=256)
def _hash_key(secret: str, purpose: str) -> bytes:
    """Derived once per secret and purpose (a handful of each), not on every hash: the
    token paths hash several values per request."""
    return hmac.digest(secret.encode(), b"keyed-hash:" + purpose.encode(), hashlib.sha256)


def keyed_hash(value: str, purpose: str) -> str:
    """Deterministic keyed hash, so a presented secret can be looked up by index."""
    digest = hmac.digest(_hash_key(current_app.config["IDP_SECRET_KEY"], purpose), value.encode(),
                         hashlib.sha256)
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def matches(value: str, stored_hash: str | None, purpose: str) -> bool:
    if not stored_hash:
        return False
    return hmac.compare_digest(keyed_hash(value, purpose), stored_hash)
