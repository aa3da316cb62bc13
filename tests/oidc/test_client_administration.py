"""Relying parties disabled, enabled again or given a new secret by an operator (``idp client
…``), while every IdP process keeps the clients it has read for ``IDP_CLIENT_CACHE_SECONDS``:
a change reaches every process within that time, with the product's default."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from idp.audit import EventTag
from idp.cli import main
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from tests.factories import make_citizen, make_client
from tests.flows.support import refresh
from tests.oidc.test_code_flow import basic
from tests.security.conftest import tokens_for
from tests.support.browser import AuthorizationAttempt
from tests.support.cli import cli_for


@pytest.fixture
def run(app, monkeypatch):  # type: ignore[no-untyped-def]
    return cli_for(app, monkeypatch)


def _cache_time_passes(app) -> None:  # type: ignore[no-untyped-def]
    clock.advance(seconds=app.config["IDP_CLIENT_CACHE_SECONDS"])


def _introspect(browser, rp, secret: str, presented: str = "unknown"):  # type: ignore[no-untyped-def]
    return browser.post("/introspect", headers=basic(rp.client_id, secret), data={"token": presented})


@contextmanager
def client_reads(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The statements that read the ``clients`` table meanwhile."""
    with app.app_context():
        engine = db.engine
    reads: list[str] = []

    def note(conn, cursor, statement: str, *_: object) -> None:  # type: ignore[no-untyped-def]
        if re.search(r"\bFROM clients\b", statement):
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_process_reads_a_client_once_per_cache_time(app, browser):
    rp = make_client()
    with client_reads(app) as reads:
        for _ in range(3):
            assert _introspect(browser, rp, rp.secret).status_code == 200
        _cache_time_passes(app)
        assert _introspect(browser, rp, rp.secret).status_code == 200
    assert len(reads) == 2


def test_a_disabled_client_and_its_tokens_are_refused_once_the_cache_time_has_passed(
        app, browser, sms_file, run):
    rp = make_client()
    issued = tokens_for(browser, sms_file, rp, make_citizen())
    assert refresh(browser, rp, issued["refresh_token"]).status_code == 200  # read and kept

    assert run("client", "disable", rp.client_id).exit_code == 0
    _cache_time_passes(app)

    refused = browser.post("/token", headers=basic(rp.client_id, rp.secret), data={
        "grant_type": "refresh_token", "refresh_token": issued["refresh_token"]})
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    assert _introspect(browser, rp, rp.secret).status_code == 401
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert info.status_code == 401
    page = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
    assert page.status_code == 400 and "Location" not in page.headers


def test_an_enabled_client_is_accepted_again_at_once(app, browser, sms_file, run):
    rp = make_client()
    issued = tokens_for(browser, sms_file, rp, make_citizen())
    run("client", "disable", rp.client_id)
    _cache_time_passes(app)
    assert _introspect(browser, rp, rp.secret).status_code == 401

    assert run("client", "enable", rp.client_id).exit_code == 0

    assert _introspect(browser, rp, rp.secret, issued["access_token"]).get_json()["active"] is True
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert info.status_code == 200


def test_a_new_secret_works_at_once_and_the_old_one_stops_once_the_cache_time_has_passed(
        app, browser, run):
    rp = make_client()
    assert _introspect(browser, rp, rp.secret).status_code == 200  # read and kept

    rotated = run("client", "rotate-secret", rp.client_id, "--json")
    new_secret = json.loads(rotated.stdout)["client_secret"]

    assert new_secret != rp.secret
    assert _introspect(browser, rp, new_secret).status_code == 200
    _cache_time_passes(app)
    assert _introspect(browser, rp, rp.secret).status_code == 401
    assert _introspect(browser, rp, new_secret).status_code == 200


def test_disabling_enabling_and_new_secrets_are_audited(app, run):
    rp = make_client()
    for command in ("disable", "enable", "rotate-secret"):
        assert run("client", command, rp.client_id).exit_code == 0
    tags = db.session.scalars(db.select(AuditEvent.tag).filter_by(client_id=rp.client_id)
                              .order_by(AuditEvent.id)).all()
    assert tags[-3:] == [EventTag.CLIENT_DISABLED, EventTag.CLIENT_ENABLED,
                         EventTag.CLIENT_SECRET_ROTATED]


def test_a_client_without_a_secret_has_none_to_rotate(app, run):
    public = make_client(auth_method="none")
    result = CliRunner().invoke(main, ["client", "rotate-secret", public.client_id])
    assert result.exit_code == 2 and "no secret" in result.output


@pytest.mark.parametrize("command", ["disable", "enable", "rotate-secret"])
def test_an_unknown_client_id_is_refused_by_every_client_command(app, run, command):
    result = CliRunner().invoke(main, ["client", command, "no-such-client"])
    assert result.exit_code == 2 and "no-such-client" in result.output
