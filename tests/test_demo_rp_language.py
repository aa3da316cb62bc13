"""The demo RP is a Spanish municipality's site: Spanish by default, English for a browser
that prefers it; its own catalogue is complete and compiled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

import demo_rp.app
from demo_rp.app import create_app
from tests.test_demo_rp import (  # noqa: F401 - fixtures
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeProvider,
    clean_environment,
    closed_port_url,
    provider,
)

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "demo_rp" / "translations" / "es" / "LC_MESSAGES"


def browser(issuer: str) -> FlaskClient:
    """A browser that sends no Accept-Language at all (Flask's test client)."""
    return create_app({"DEMO_RP_ISSUER": issuer, "DEMO_RP_BASE_URL": BASE_URL,
                       "DEMO_RP_CLIENT_ID": CLIENT_ID, "DEMO_RP_CLIENT_SECRET": CLIENT_SECRET,
                       "TESTING": True}).test_client()


def language_of(html: str) -> str:
    return re.search(r'<html lang="([^"]+)">', html).group(1)


def test_the_demo_speaks_spanish_by_default() -> None:
    html = browser(closed_port_url()).get("/").get_data(as_text=True)

    assert language_of(html) == "es"
    assert "<h1>Sede electrónica</h1>" in html and "Acceder con Cl@ve" in html
    assert "Log in" not in html and "Level of assurance" not in html


@pytest.mark.parametrize(("accept", "expected", "button"), [
    ("en-GB,en;q=0.9", "en", "Log in with Cl@ve"),
    ("es-ES,es;q=0.9,en;q=0.8", "es", "Acceder con Cl@ve"),
    ("en-US,en;q=0.9,es;q=0.8", "en", "Log in with Cl@ve"),
    ("fr-FR,fr;q=0.9", "es", "Acceder con Cl@ve"),
    ("gl-ES,gl;q=0.9,es;q=0.8,en;q=0.5", "es", "Acceder con Cl@ve"),
])
def test_the_demo_follows_the_browsers_language(accept: str, expected: str, button: str) -> None:
    html = browser(closed_port_url()).get("/", headers={"Accept-Language": accept}).get_data(as_text=True)

    assert language_of(html) == expected and button in html


def test_a_login_and_an_error_read_in_spanish(provider: FakeProvider) -> None:  # noqa: F811
    client = browser(provider.url)
    redirect = client.get("/login")
    client.get("/callback", query_string=provider.approve(redirect.location))
    home = client.get("/").get_data(as_text=True)
    assert "Datos del token de identidad" in home and "Sustancial" in home
    assert "código de un solo uso por SMS" in home and "Cerrar sesión" in home

    refused = client.get("/callback", query_string={"error": "access_denied", "state": "x"})
    assert "Ha cancelado el inicio de sesión" in refused.get_data(as_text=True)


def test_without_its_compiled_catalogue_the_demo_says_it_is_english(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_rp.app, "TRANSLATIONS", tmp_path)
    html = browser(closed_port_url()).get("/").get_data(as_text=True)

    assert language_of(html) == "en" and "Log in with Cl@ve" in html


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The demo's messages as they are now, extracted like scripts/update-translations.sh."""
    pot = tmp_path_factory.mktemp("demo-pot") / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "--quiet", "extract", "--mapping-file", str(ROOT / "babel-demo-rp.cfg"),
        "--keyword", "_l", "--output-file", str(pot), str(ROOT)])
    with pot.open("rb") as handle:
        return read_po(handle)


def test_every_text_of_the_demo_is_translated_to_spanish_and_compiled(extracted: Any) -> None:
    with (CATALOGUE / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="es")
    spanish = {message.id: message.string for message in catalog if message.id}
    errors = [(message.id, error) for message, errors in catalog.check() for error in errors]
    assert not errors, f"placeholders differ from the source: {errors}"
    missing = [message.id for message in extracted if message.id and not spanish.get(message.id)]
    assert not missing, f"untranslated (run scripts/update-translations.sh): {missing}"
    with (CATALOGUE / "messages.mo").open("rb") as handle:
        compiled = {message.id: message.string for message in read_mo(handle) if message.id}
    assert compiled == spanish, "demo_rp's messages.mo is out of date: run make translations"
