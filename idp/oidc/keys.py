"""ID-token signing keys: generated at init, rotated by ``idp keys rotate``.

Keys live as PEM files (mode 0600) in ``IDP_KEYS_DIR`` beside a manifest
``keys.json`` listing each key's ``kid``, ``alg`` and when it was retired. A retired
key stays in the published JWKS until every ID token it signed has expired.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

from idp.clock import clock
from idp.files import create_private, private_dir, replace_private, tighten
from idp.secrets import random_token

ALGORITHMS = ("RS256", "ES256")
MANIFEST = "keys.json"


@dataclass(frozen=True)
class KeyEntry:
    kid: str
    alg: str
    created_at: str
    retired_at: str | None = None


def _generate_pem(alg: str, passphrase: str) -> bytes:
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _now_iso() -> str:
    return clock.now().replace(tzinfo=UTC).isoformat()


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC).replace(tzinfo=None)


def read_manifest(keys_dir: Path) -> list[KeyEntry]:
    path = keys_dir / MANIFEST
    if not path.exists():
        return []
    return [KeyEntry(**entry) for entry in json.loads(path.read_text())]


def _write_manifest(keys_dir: Path, entries: list[KeyEntry]) -> None:
    manifest = json.dumps([entry.__dict__ for entry in entries], indent=2)
    replace_private(keys_dir / MANIFEST, manifest.encode())


def _new_key(keys_dir: Path, alg: str, passphrase: str) -> KeyEntry:
    kid = f"{alg.lower()}-{random_token(9)}"
    if not create_private(keys_dir / f"{kid}.pem", _generate_pem(alg, passphrase)):
        raise FileExistsError(keys_dir / f"{kid}.pem")
    return KeyEntry(kid=kid, alg=alg, created_at=_now_iso())


def ensure_keys(keys_dir: Path, passphrase: str = "") -> list[KeyEntry]:
    """Create an active key for each algorithm that has none (idempotent); key files that
    others may read (copied in, restored from a backup) are made the owner's alone."""
    private_dir(keys_dir)
    for existing in keys_dir.glob("*.pem"):
        tighten(existing)
    entries = read_manifest(keys_dir)
    active = {entry.alg for entry in entries if entry.retired_at is None}
    added = [_new_key(keys_dir, alg, passphrase) for alg in ALGORITHMS if alg not in active]
    if added:
        entries += added
        _write_manifest(keys_dir, entries)
    return entries


def rotate_keys(keys_dir: Path, retention: timedelta, passphrase: str = "") -> list[KeyEntry]:
    """Retire the active keys, create new ones, forget keys retired past ``retention``."""
    now = _now_iso()
    entries = []
    for entry in read_manifest(keys_dir):
        if entry.retired_at is None:
            entry = KeyEntry(entry.kid, entry.alg, entry.created_at, now)
        if _parse_iso(entry.retired_at) + retention <= clock.now():
            (keys_dir / f"{entry.kid}.pem").unlink(missing_ok=True)
            continue
        entries.append(entry)
    entries += [_new_key(keys_dir, alg, passphrase) for alg in ALGORITHMS]
    _write_manifest(keys_dir, entries)
    return entries


class KeyStore:
    """Process-wide cache of the keys, reloaded when the manifest changes on disk."""

    def __init__(self, keys_dir: Path, retention: timedelta, passphrase: str = "") -> None:
        self.keys_dir = keys_dir
        self.retention = retention
        self._passphrase = passphrase or None
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._signing: dict[str, RSAKey | ECKey] = {}
        self._jwks: dict[str, Any] = {"keys": []}
        self._jwks_document: tuple[bytes, str] = (b"", "")
        self._all: dict[str, RSAKey | ECKey] = {}
        self._stale_after: datetime | None = None

    def _refresh(self) -> None:
        """Reload when the manifest changed or a retired key's retention has run out."""
        mtime = (self.keys_dir / MANIFEST).stat().st_mtime
        if mtime == self._mtime and (self._stale_after is None or clock.now() < self._stale_after):
            return
        with self._lock:
            signing, published, every = {}, [], {}
            ends = []
            for entry in read_manifest(self.keys_dir):
                if entry.retired_at:
                    end = _parse_iso(entry.retired_at) + self.retention
                    if end <= clock.now():
                        continue
                    ends.append(end)
                pem = (self.keys_dir / f"{entry.kid}.pem").read_bytes()
                key_cls = RSAKey if entry.alg == "RS256" else ECKey
                key = key_cls.import_key(pem, {"kid": entry.kid, "alg": entry.alg, "use": "sig"},
                                         password=self._passphrase)
                every[entry.kid] = key
                published.append(key.as_dict(private=False))
                if entry.retired_at is None:
                    signing[entry.alg] = key
            self._signing, self._all, self._jwks = signing, every, {"keys": published}
            # Serialised once per key-set change (the JWKS endpoint is the busiest GET); one
            # tuple, so that a reader never pairs a body with another body's ETag.
            body = json.dumps(self._jwks).encode()
            self._jwks_document = (body, hashlib.sha256(body).hexdigest()[:32])
            self._mtime, self._stale_after = mtime, min(ends, default=None)

    def signing_key(self, alg: str) -> RSAKey | ECKey:
        self._refresh()
        return self._signing[alg]

    def public_jwks(self) -> dict[str, Any]:
        self._refresh()
        return self._jwks

    def public_jwks_document(self) -> tuple[bytes, str]:
        """The published JWKS as JSON bytes and its ETag, both computed once per key set."""
        self._refresh()
        return self._jwks_document

    def verification_keys(self) -> dict[str, RSAKey | ECKey]:
        self._refresh()
        return self._all
