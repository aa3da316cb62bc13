"""Every ``DEMO_RP_*`` setting and its default, in one place."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, str] = {
    "DEMO_RP_ISSUER": "http://127.0.0.1:5000",
    "DEMO_RP_BASE_URL": "http://127.0.0.1:5001",
    "DEMO_RP_CLIENT_FILE": "instance/demo_client.json",
    "DEMO_RP_CLIENT_ID": "",
    "DEMO_RP_CLIENT_SECRET": "",
    "DEMO_RP_SECRET_KEY": "",
    "DEMO_RP_ACR": "http://eidas.europa.eu/LoA/substantial",
    "DEMO_RP_SCOPE": "openid profile email phone national_id",
}

# Labelled so that a key derived for this app can never collide with another use of the secret.
_SESSION_KEY_LABEL = b"clave-demo-rp/flask-session-key/v1"


class ConfigurationError(Exception):
    """The demo cannot start with the configuration it was given."""


@dataclass(frozen=True)
class DemoSettings:
    issuer: str
    base_url: str
    client_id: str
    client_secret: str
    secret_key: str
    acr: str
    scope: str
    client_file: str

    @property
    def is_client_configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @property
    def discovery_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    @property
    def redirect_uri(self) -> str:
        return self.base_url + "/callback"

    @property
    def signed_uri(self) -> str:
        """Where Cl@ve Firma sends the citizen back after a signature."""
        return self.base_url + "/signed"

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.base_url + "/logged-out"


def load_settings(overrides: Mapping[str, Any] | None = None) -> DemoSettings:
    """Read the settings from the environment; ``overrides`` (same keys) win."""
    overrides = overrides or {}
    raw = {
        name: str(overrides.get(name, os.environ.get(name, default)))
        for name, default in DEFAULTS.items()
    }
    client_id, client_secret = raw["DEMO_RP_CLIENT_ID"], raw["DEMO_RP_CLIENT_SECRET"]
    if not (client_id and client_secret):
        client_id, client_secret = _read_client_file(Path(raw["DEMO_RP_CLIENT_FILE"]))

    scope = raw["DEMO_RP_SCOPE"].split()
    if "openid" not in scope:
        # Without it the IdP would run plain OAuth: no ID token, nothing to validate.
        scope.insert(0, "openid")

    return DemoSettings(
        issuer=raw["DEMO_RP_ISSUER"].rstrip("/"),
        base_url=raw["DEMO_RP_BASE_URL"].rstrip("/"),
        client_id=client_id,
        client_secret=client_secret,
        secret_key=raw["DEMO_RP_SECRET_KEY"] or _derive_secret_key(client_secret),
        acr=raw["DEMO_RP_ACR"],
        scope=" ".join(scope),
        client_file=raw["DEMO_RP_CLIENT_FILE"],
    )


def _read_client_file(path: Path) -> tuple[str, str]:
    """The credentials ``idp init --demo`` wrote, or empty strings when it has not run yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "", ""
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the client file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must hold a JSON object with client_id and client_secret")
    return str(data.get("client_id") or ""), str(data.get("client_secret") or "")


def _derive_secret_key(client_secret: str) -> str:
    """A session key every worker computes alike, so a login begun on one ends on another.

    Without a client secret there is no login to protect, and a random key will do
    (``idp-demo-rp`` builds the app before forking, so its workers still share it).
    """
    if not client_secret:
        return os.urandom(32).hex()
    return hmac.new(client_secret.encode(), _SESSION_KEY_LABEL, hashlib.sha256).hexdigest()
