"""HTTP calls of the Cl@ve mobile app, with a proof on every call after enrollment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from idp_mobile.device import PROOF_HEADER, DeviceKey

API = "/api/mobile/v1"
_CHALLENGE_LINK = re.compile(r"^(?P<issuer>https?://.+)/m/c/(?P<id>[A-Za-z0-9_-]{8,64})$")


class MobileError(Exception):
    """The IdP refused a call; ``error`` is its machine-readable reason."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{error} (HTTP {status})")
        self.status, self.error = status, error


def parse_challenge_link(text: str) -> tuple[str, str]:
    """(issuer, challenge id) from the URI a QR code or deep link carries."""
    match = _CHALLENGE_LINK.match(text.strip())
    if not match:
        raise ValueError("not a Cl@ve mobile link")
    return match.group("issuer"), match.group("id")


def decode_qr_image(path: Path) -> str:
    """The text of the QR code in an image file (zbar via pyzbar)."""
    from PIL import Image
    from pyzbar import pyzbar

    with Image.open(path) as image:
        found = pyzbar.decode(image)
    if not found:
        raise ValueError(f"no QR code found in {path}")
    return found[0].data.decode()


@dataclass
class MobileClient:
    issuer: str
    session: requests.Session

    @classmethod
    def for_issuer(cls, issuer: str) -> MobileClient:
        return cls(issuer.rstrip("/"), requests.Session())

    def _url(self, path: str) -> str:
        return f"{self.issuer}{API}{path}"

    def _answer(self, response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400:
            raise MobileError(response.status_code, data.get("error", "http_error"))
        return data

    def enroll(self, document: str, password: str, device_name: str,
               read_sms_code: Any) -> DeviceKey:
        """Enroll a new key: credentials, then the SMS code ``read_sms_code(hint)`` returns."""
        started = self._answer(self.session.post(self._url("/enrollments"), timeout=10, json={
            "document": document, "password": password, "device_name": device_name}))
        device = DeviceKey.generate()
        code = read_sms_code(started.get("phone_hint", ""))
        done = self._answer(self.session.post(
            self._url("/devices"), timeout=10,
            json={"enrollment": started["enrollment"], "otp": code,
                  "public_jwk": device.public_jwk()}))
        device.device_id, device.issuer = done["device_id"], self.issuer
        return device

    def challenge(self, device: DeviceKey, challenge_id: str) -> dict[str, Any]:
        url = self._url(f"/challenges/{challenge_id}")
        return self._answer(self.session.get(url, timeout=10,
                                             headers={PROOF_HEADER: device.proof("GET", url)}))

    def pending(self, device: DeviceKey) -> list[dict[str, Any]]:
        url = self._url("/pending")
        data = self._answer(self.session.get(url, timeout=10,
                                             headers={PROOF_HEADER: device.proof("GET", url)}))
        return data["pending"]

    def decide(self, device: DeviceKey, challenge_id: str, approve: bool,
               code: str | None = None) -> str:
        """Approve (with the ``code`` the citizen typed, read in the browser) or deny; the
        decision and the code travel inside the signed proof."""
        url = self._url(f"/challenges/{challenge_id}/decision")
        claims: dict[str, Any] = {"challenge": challenge_id, "decision": "approve" if approve else "deny"}
        if code is not None:
            claims["code"] = code
        proof = device.proof("POST", url, **claims)
        return self._answer(self.session.post(url, timeout=10, headers={PROOF_HEADER: proof}))["status"]
