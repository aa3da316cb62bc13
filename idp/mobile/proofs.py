"""Proof of possession for every device call: a short-lived JWS signed by the device key.

Like DPoP (RFC 9449): the header names the device (``kid``), the payload binds the call
(``htm``, ``htu``), its time (``iat``) and a unique ``jti`` that is accepted once. A
decision call carries its decision in the same signed payload.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.mobile.models import Device
from idp.oidc.models import use_jti_once

HEADER = "Device-Proof"
MAX_SKEW = 60  # seconds a proof may be old (or early)


class ProofError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def public_key_from_jwk(jwk: Any) -> ECKey:
    """An enrolling app's key: EC P-256, public part only."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or "d" in jwk:
        raise ProofError("invalid_key")
    try:
        return ECKey.import_key({k: jwk[k] for k in ("kty", "crv", "x", "y")})
    except (JoseError, KeyError, ValueError, TypeError) as error:
        raise ProofError("invalid_key") from error


def verify(token: str | None, *, method: str, path: str) -> tuple[Device, dict[str, Any]]:
    """The device that signed this call, and the signed claims; ``ProofError`` otherwise."""
    if not token or len(token) > 4096:
        raise ProofError("missing_proof")
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError, UnicodeError) as error:
        raise ProofError("invalid_proof") from error
    device_id = header.get("kid")
    device = db.session.get(Device, device_id) if isinstance(device_id, str) else None
    if device is None or not device.is_active:
        raise ProofError("unknown_device")
    if header.get("alg") != "ES256":
        raise ProofError("invalid_proof")
    try:
        claims = dict(jwt.decode(token, ECKey.import_key(device.public_jwk), algorithms=["ES256"]).claims)
    except (JoseError, ValueError) as error:
        raise ProofError("invalid_signature") from error
    expected_url = current_app.config["IDP_ISSUER"] + path
    if claims.get("htm") != method or claims.get("htu") != expected_url:
        raise ProofError("wrong_target")
    issued = claims.get("iat")
    if not isinstance(issued, int) or abs(clock.timestamp() - issued) > MAX_SKEW:
        raise ProofError("stale_proof")
    _use_once(device, claims.get("jti"))
    device.last_used_at = clock.now()
    return device, claims


def _use_once(device: Device, jti: Any) -> None:
    if not isinstance(jti, str) or not 8 <= len(jti) <= 128:
        raise ProofError("invalid_proof")
    if not use_jti_once(secrets.keyed_hash(f"device|{device.id}|{jti}", "jti"),
                        clock.now() + timedelta(seconds=2 * MAX_SKEW)):
        raise ProofError("replayed_proof")
