"""Which relying parties may ask for signatures: ``idp client create … --signature``, and
``idp client update --signature/--no-signature``, seen by the API at once (or within the
client cache's lifetime), and purging what has expired (``idp purge``)."""

from __future__ import annotations

import json

import pytest

from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.firma.signature_requests import SignatureRequest
from idp.models import AuditEvent
from tests.factories import ClientAndSecret
from tests.firma.rp import ask_digest
from tests.support.cli import cli_for


@pytest.fixture
def run(app, monkeypatch):  # type: ignore[no-untyped-def]
    return cli_for(app, monkeypatch)



def created(run, *options: str) -> ClientAndSecret:  # type: ignore[no-untyped-def]
    from idp.oidc.models import Client

    data = json.loads(run("client", "create", "--name", "Sede", "--redirect-uri",
                          "https://sede.example/firmado", *options, "--json").stdout)
    db.session.rollback()
    client = db.session.scalar(db.select(Client).filter_by(client_id=data["client_id"]))
    return ClientAndSecret(client, data["client_secret"])


def test_a_client_is_not_authorised_for_signatures_unless_created_so(run, rp):
    plain, signing = created(run), created(run, "--signature")
    assert json.loads(run("client", "show", plain.client_id, "--json").stdout)["signature"] is False
    assert json.loads(run("client", "show", signing.client_id, "--json").stdout)["signature"] is True
    assert ask_digest(rp, plain).status_code == 403
    assert ask_digest(rp, signing).status_code == 201


def test_update_grants_and_withdraws_the_signature_permission(run, rp):
    client = created(run)
    run("client", "update", client.client_id, "--signature")
    assert ask_digest(rp, client).status_code == 201
    result = run("client", "update", client.client_id, "--no-signature", "--json")
    assert json.loads(result.stdout)["changed"] == ["signature"]
    db.session.rollback()
    updates = db.session.scalars(db.select(AuditEvent).filter_by(tag=EventTag.CLIENT_UPDATED.value))
    assert [event.detail for event in updates] == [{"signature": True}, {"signature": False}]


def test_purge_deletes_requests_past_their_lifetime_only(app, run, rp):
    client = created(run, "--signature")
    ask_digest(rp, client)
    assert json.loads(run("purge", "--json").stdout)["signature_requests"] == 0
    clock.advance(seconds=app.config["IDP_FIRMA_REQUEST_TTL"])
    assert json.loads(run("purge", "--json").stdout)["signature_requests"] == 1
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(SignatureRequest)) == 0
