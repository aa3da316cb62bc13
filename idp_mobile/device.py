"""The device's key: generated on the device, kept in a 0600 file, never sent anywhere.

Every call to the IdP carries a proof (RFC 9449-style JWS): method, URL, time and a
unique id, signed with this key; a decision is part of the same signed payload.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

PROOF_HEADER = "Device-Proof"


@dataclass
class DeviceKey:
    key: ECKey
    device_id: str | None = None
    issuer: str | None = None

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(ECKey.generate_key("P-256"))

    def public_jwk(self) -> dict[str, Any]:
        return self.key.as_dict(private=False)

    def proof(self, method: str, url: str, **claims: Any) -> str:
        if not self.device_id:
            raise RuntimeError("the device is not enrolled yet")
        payload = {"htm": method, "htu": url.split("?")[0], "iat": int(time.time()),
                   "jti": secrets.token_urlsafe(16), **claims}
        header = {"alg": "ES256", "kid": self.device_id, "typ": "device-proof+jwt"}
        return jwt.encode(header, payload, self.key, algorithms=["ES256"])

    def save(self, path: Path) -> None:
        """Write the state: a new file (0600 from its creation, mkstemp's random name, so
        that nothing planted beside it is followed) renamed over the old one."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = json.dumps({"device_id": self.device_id, "issuer": self.issuer,
                           "private_jwk": self.key.as_dict(private=True)})
        fd, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(data)
            os.replace(aside, path)
        except BaseException:
            os.unlink(aside)
            raise

    @classmethod
    def load(cls, path: Path) -> DeviceKey:
        data = json.loads(path.read_text())
        return cls(ECKey.import_key(data["private_jwk"]), data.get("device_id"), data.get("issuer"))
