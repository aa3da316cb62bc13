"""A software authenticator for server-side tests: real WebAuthn answers, made as the
specification says (an EC P-256 key, authenticatorData, a signature over it and the hash of
clientDataJSON; attestation "none" encoded with cbor2), so that py_webauthn checks them
exactly as it checks a browser's. Test code only: the product parses, never builds, CBOR.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
RP_ID = "localhost"  # the tests' issuer is http://localhost
ORIGIN = "http://localhost"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One passkey: its key, id, count and the user handle it was made for."""

    counts: bool = True  # False: a synced passkey, whose count stays 0
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    sign_count: int = 0
    user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return b64(self.credential_id)

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def authenticator_data(self, rp_id: str, flags: int, attested: bool = False) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count)
        if attested:
            data += bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
            data += self.cose_public_key()
        return data

    def create(self, options: dict[str, Any], *, origin: str = ORIGIN, rp_id: str = RP_ID,
               flags: int = UP | UV) -> str:
        """What ``navigator.credentials.create(options)`` gives the page, as JSON."""
        self.user_handle = unb64(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {},
                                   "authData": self.authenticator_data(rp_id, flags | AT, attested=True)})
        return json.dumps({"id": self.id, "rawId": self.id, "type": "public-key",
                           "response": {"clientDataJSON": b64(client_data),
                                        "attestationObject": b64(attestation),
                                        "transports": ["internal"]},
                           "clientExtensionResults": {}})

    def get(self, options: dict[str, Any], *, origin: str = ORIGIN, rp_id: str = RP_ID,
            flags: int = UP | UV, count: int | None = None, credential_id: bytes | None = None,
            user_handle: bytes | None = None) -> str:
        """What ``navigator.credentials.get(options)`` gives the page, as JSON; ``count``
        sets the signature counter, else it moves on by one (if this authenticator counts)."""
        if count is not None:
            self.sign_count = count
        elif self.counts:
            self.sign_count += 1
        data = self.authenticator_data(rp_id, flags)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        raw_id = credential_id or self.credential_id
        handle = user_handle if user_handle is not None else self.user_handle
        return json.dumps({"id": b64(raw_id), "rawId": b64(raw_id), "type": "public-key",
                           "response": {"clientDataJSON": b64(client_data),
                                        "authenticatorData": b64(data), "signature": b64(signature),
                                        "userHandle": b64(handle or b"")},
                           "clientExtensionResults": {}})

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                           "crossOrigin": False}).encode()
