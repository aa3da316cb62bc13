"""Running the ``idp`` command against a test's own app: same database, keys and SMS file."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from flask import Flask

from idp.cli import main

_SHARED = ("IDP_DATABASE_URL", "IDP_KEYS_DIR", "IDP_SECRET_KEY", "IDP_SMS_BACKEND", "IDP_ISSUER",
           "IDP_ARGON2_MEMORY_KIB", "IDP_ARGON2_TIME_COST")


def cli_for(app: Flask, monkeypatch: pytest.MonkeyPatch, *,
            catch_exceptions: bool = False) -> Callable[..., Result]:
    """``invoke("citizen", "show", …)``: the command builds its app from the IDP_*
    environment, which is set here to the test app's configuration."""
    for name in _SHARED:
        monkeypatch.setenv(name, str(app.config[name]))

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=catch_exceptions)

    return invoke
