"""Citizens' private signing keys at rest: sealed with AES-256-GCM under a key-encryption
key (KEK) derived with HKDF-SHA256 from a deployment secret (``IDP_FIRMA_SEAL_SECRET``, or
``IDP_SECRET_KEY`` when that is empty).

A database dump alone opens no key. Each sealed key is bound (as GCM's associated data) to
the certificate row it belongs to, so a sealed key copied onto another citizen's row does
not open either. The plaintext (PKCS#8 DER) exists only in memory while a signature is
made; it is never logged, returned or exported.
"""

from __future__ import annotations

import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

VERSION = b"\x01"  # the KEK derivation and layout: version || nonce (12) || ciphertext+tag
NONCE_BYTES = 12


class KeyUnavailable(Exception):
    """A sealed key that this deployment's KEK cannot open (another secret, altered bytes)."""


@lru_cache(maxsize=8)
def derive_kek(secret: str) -> bytes:
    """The 256-bit KEK of ``secret``: derived once per secret, not per signature."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"clave-idp/firma",
                info=b"citizen signing keys, v1").derive(secret.encode())


def deployment_kek() -> bytes:
    config = current_app.config
    return derive_kek(config["IDP_FIRMA_SEAL_SECRET"] or config["IDP_SECRET_KEY"])


def seal(kek: bytes, private_key_der: bytes, *, binding: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(kek).encrypt(nonce, private_key_der, binding)


def unseal(kek: bytes, sealed: bytes, *, binding: bytes) -> bytes:
    if sealed[:1] != VERSION:
        raise KeyUnavailable("unknown sealing version")
    nonce, body = sealed[1:1 + NONCE_BYTES], sealed[1 + NONCE_BYTES:]
    try:
        return AESGCM(kek).decrypt(nonce, body, binding)
    except InvalidTag as error:
        raise KeyUnavailable("the key-encryption key does not open this key") from error
