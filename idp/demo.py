"""``idp init --demo``: a demo relying party and an active demo citizen to try the flows.

The demo client is registered for the address the demo RP will really have,
``DEMO_RP_BASE_URL`` (``make run`` derives it from ``DEMO_RP_PORT``), and follows it when it
changes; its credentials go where the demo RP reads them, ``DEMO_RP_CLIENT_FILE``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from flask import Flask

from demo_rp.settings import DEFAULTS as DEMO_RP_DEFAULTS
from idp import citizens
from idp.assurance import ACR_SUBSTANTIAL
from idp.clients import ClientError, register_client, set_redirect_uris
from idp.documents import parse_document
from idp.extensions import db
from idp.files import private_dir, replace_private
from idp.oidc.models import Client

DEMO_DOCUMENT = "12345678Z"
DEMO_PASSWORD = "Demo-Clave-2026"  # noqa: S105 - printed on purpose: it is the demo account
DEMO_CONTRAST = "01012030"


def _demo_rp_setting(name: str) -> str:
    return os.environ.get(name) or DEMO_RP_DEFAULTS[name]


def seed_demo(app: Flask) -> None:
    """Within the caller's unit of work (``idp init --demo``)."""
    rp_url = _demo_rp_setting("DEMO_RP_BASE_URL").rstrip("/")
    client_file = Path(_demo_rp_setting("DEMO_RP_CLIENT_FILE"))
    try:
        _demo_client(client_file, rp_url)
    except ClientError as error:
        raise click.ClickException(f"DEMO_RP_BASE_URL: {error}") from error
    with app.test_request_context():
        _demo_citizen()
    backend = app.config["IDP_SMS_BACKEND"]
    where = ("printed by the IdP in this terminal" if backend == "console"
             else f"written to {backend.removeprefix('file:')}" if backend.startswith("file:")
             else "sent through the HTTP gateway")
    click.echo(f"""
Demo relying party: {rp_url}   (credentials in {client_file})
Demo citizen:       DNI {DEMO_DOCUMENT}   password {DEMO_PASSWORD}   (unless you changed it)
SMS codes are {where}.
""")


def _demo_client(client_file: Path, rp_url: str) -> None:
    redirect_uris, logout_uris = [f"{rp_url}/callback", f"{rp_url}/signed"], [f"{rp_url}/logged-out"]
    if client_file.exists():
        known = json.loads(client_file.read_text())
        client = db.session.scalar(db.select(Client).filter_by(client_id=known["client_id"]))
        if client is not None:
            if set_redirect_uris(client, redirect_uris, logout_uris):
                click.echo(f"Demo relying party moved: its client now redirects to {rp_url}")
            client.signature_enabled = True  # a demo client made before Cl@ve Firma
            return
    registered = register_client(
        name="Ayuntamiento de Ejemplo (demo)",
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=logout_uris,
        scope="openid profile email phone national_id",
        default_acr=ACR_SUBSTANTIAL,
        signature=True,
    )
    private_dir(client_file.parent)
    replace_private(client_file, json.dumps({"client_id": registered.client.client_id,
                                             "client_secret": registered.secret}).encode())


def _demo_citizen() -> None:
    document = parse_document(DEMO_DOCUMENT)
    if citizens.find(document) is not None:
        return
    registration = citizens.register(
        document, given_name="María", first_surname="García", second_surname="López",
        email="maria.garcia@example.org", phone="+34600000001", contrast_data=DEMO_CONTRAST,
        channel="demo")
    citizens.set_password(registration.citizen, DEMO_PASSWORD)
    click.echo(f"Demo citizen's activation code: {registration.activation_code}")
