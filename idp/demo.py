"""``idp init --demo``: a demo relying party and an active demo citizen to try the flows."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask

from idp import citizens
from idp.assurance import ACR_SUBSTANTIAL
from idp.clients import register_client
from idp.documents import parse_document
from idp.extensions import db
from idp.files import private_dir, replace_private
from idp.oidc.models import Client

DEMO_RP = "http://127.0.0.1:5001"
DEMO_DOCUMENT = "12345678Z"
DEMO_PASSWORD = "Demo-Clave-2026"  # noqa: S105 - printed on purpose: it is the demo account
DEMO_CONTRAST = "01012030"


def seed_demo(app: Flask) -> None:
    """Within the caller's unit of work (``idp init --demo``)."""
    client_file = Path(app.instance_path) / "demo_client.json"
    _demo_client(client_file)
    with app.test_request_context():
        _demo_citizen()
    backend = app.config["IDP_SMS_BACKEND"]
    where = ("printed by the IdP in this terminal" if backend == "console"
             else f"written to {backend.removeprefix('file:')}" if backend.startswith("file:")
             else "sent through the HTTP gateway")
    click.echo(f"""
Demo relying party: {DEMO_RP}   (credentials in {client_file})
Demo citizen:       DNI {DEMO_DOCUMENT}   password {DEMO_PASSWORD}   (unless you changed it)
SMS codes are {where}.
""")


def _demo_client(client_file: Path) -> None:
    if client_file.exists():
        known = json.loads(client_file.read_text())
        if db.session.scalar(db.select(Client).filter_by(client_id=known["client_id"])):
            return
    registered = register_client(
        name="Ayuntamiento de Ejemplo (demo)",
        redirect_uris=[f"{DEMO_RP}/callback"],
        post_logout_redirect_uris=[f"{DEMO_RP}/logged-out"],
        scope="openid profile email phone national_id",
        default_acr=ACR_SUBSTANTIAL,
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
