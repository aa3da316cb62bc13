"""Relying parties listed, shown, updated, disabled, enabled again or given a new secret by an
operator (``idp client …``), while every IdP process keeps the clients it has read for
``IDP_CLIENT_CACHE_SECONDS``: a change reaches every process within that time, with the
product's default."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from idp import secrets
from idp.audit import EventTag
from idp.cli import main
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from tests.factories import make_citizen, make_client
from tests.flows.support import refresh
from tests.oidc.test_code_flow import basic, id_token_claims
from tests.security.conftest import tokens_for
from tests.support.browser import AuthorizationAttempt, asks_to_log_in, log_in, page_address, shows_message
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


@pytest.mark.parametrize("command", ["disable", "enable", "rotate-secret", "show", "update"])
def test_an_unknown_client_id_is_refused_by_every_client_command(app, run, command):
    result = CliRunner().invoke(main, ["client", command, "no-such-client",
                                       *(["--name", "x"] if command == "update" else [])])
    assert result.exit_code == 2 and "no-such-client" in result.output


# -- list, show, update ------------------------------------------------------------------

def test_list_gives_every_client_with_its_state_as_a_table_and_as_json(app, run):
    kept, disabled = make_client(), make_client(auth_method="none")
    run("client", "disable", disabled.client_id)

    table = run("client", "list").stdout.splitlines()
    listed = json.loads(run("client", "list", "--json").stdout)

    assert table[0].split() == ["CLIENT_ID", "STATE", "AUTH", "NAME"]
    rows = {line.split()[0]: line.split()[1:3] for line in table[1:]}
    assert rows[kept.client_id] == ["enabled", "client_secret_basic"]
    assert rows[disabled.client_id] == ["disabled", "none"]
    by_id = {entry["client_id"]: entry for entry in listed}
    assert by_id[kept.client_id]["disabled"] is False and by_id[disabled.client_id]["disabled"] is True
    assert list(by_id) == [line.split()[0] for line in table[1:]]


def test_show_gives_the_whole_registration_but_never_the_secret(app, run):
    rp = make_client(backchannel_logout_uri=None)
    shown = json.loads(run("client", "show", rp.client_id, "--json").stdout)
    text = run("client", "show", rp.client_id).stdout

    assert shown["redirect_uris"] == ["https://rp.example/cb"]
    assert shown["post_logout_redirect_uris"] == ["https://rp.example/bye"]
    assert shown["scope"] == "openid profile email phone national_id"
    assert shown["has_secret"] is True and shown["sector"] == "rp.example"
    assert "https://rp.example/cb" in text and "Agencia de Pruebas" in text
    for output in (json.dumps(shown), text):
        assert rp.secret not in output and rp.client.client_secret_hash not in output


def test_update_changes_uris_scopes_acr_and_name_and_audits_what_changed(app, run):
    rp = make_client()
    result = run("client", "update", rp.client_id, "--name", "Sede nueva",
                 "--redirect-uri", "https://rp.example/cb2", "--redirect-uri", "https://rp.example/cb3",
                 "--post-logout-redirect-uri", "https://rp.example/adios",
                 "--scope", "openid profile", "--default-acr", "http://eidas.europa.eu/LoA/substantial")
    assert result.exit_code == 0, result.output

    shown = json.loads(run("client", "show", rp.client_id, "--json").stdout)
    assert shown["name"] == "Sede nueva" and shown["scope"] == "openid profile"
    assert shown["redirect_uris"] == ["https://rp.example/cb2", "https://rp.example/cb3"]
    assert shown["post_logout_redirect_uris"] == ["https://rp.example/adios"]
    assert shown["default_acr"] == "http://eidas.europa.eu/LoA/substantial"
    event = db.session.scalars(db.select(AuditEvent).filter_by(
        tag=EventTag.CLIENT_UPDATED, client_id=rp.client_id)).one()
    assert set(event.detail) == {"name", "redirect_uris", "post_logout_redirect_uris", "scope",
                                 "default_acr"}
    assert event.detail["scope"] == "openid profile"


def test_update_can_remove_the_default_acr_and_the_logout_uris(app, run):
    rp = make_client()
    assert run("client", "update", rp.client_id, "--no-default-acr",
               "--no-post-logout-redirect-uris").exit_code == 0
    shown = json.loads(run("client", "show", rp.client_id, "--json").stdout)
    assert shown["default_acr"] is None and shown["post_logout_redirect_uris"] == []


@pytest.mark.parametrize("options", [
    ["--redirect-uri", "http://rp.example/cb"],  # plain http outside loopback
    ["--redirect-uri", "https://rp.example/cb#fragment"],
    ["--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb"],  # two sectors
    ["--post-logout-redirect-uri", "javascript:alert(1)"],
    ["--scope", "profile email"],  # no openid
    ["--scope", "openid admin"],
    ["--default-acr", "urn:unknown:acr"],
    ["--name", " "],
    ["--no-default-acr", "--default-acr", "http://eidas.europa.eu/LoA/low"],
])
def test_update_checks_what_it_is_given_as_create_does_and_changes_nothing_when_refused(app, run, options):
    rp = make_client()
    before = json.loads(run("client", "show", rp.client_id, "--json").stdout)
    result = CliRunner().invoke(main, ["client", "update", rp.client_id, *options])
    assert result.exit_code == 2, result.output
    db.session.expire_all()
    assert json.loads(run("client", "show", rp.client_id, "--json").stdout) == before
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.CLIENT_UPDATED)) is None


def test_an_update_that_changes_nothing_is_not_audited(app, run):
    rp = make_client()
    assert CliRunner().invoke(main, ["client", "update", rp.client_id]).exit_code == 2  # no option
    result = run("client", "update", rp.client_id, "--scope", "openid profile email phone national_id")
    assert result.exit_code == 0 and "Nothing changed" in result.stdout
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.CLIENT_UPDATED)) is None


def test_a_new_redirect_uri_is_accepted_and_the_old_one_refused_once_the_cache_time_has_passed(
        app, browser, run):
    rp = make_client()
    assert asks_to_log_in(AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser))
    run("client", "update", rp.client_id, "--redirect-uri", "https://rp.example/new")
    _cache_time_passes(app)

    old = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
    assert old.status_code == 400 and "Location" not in old.headers
    assert asks_to_log_in(AuthorizationAttempt(rp.client_id, "https://rp.example/new").start(browser))


def test_a_pairwise_client_moved_to_another_host_keeps_the_subjects_its_citizens_had(
        app, browser, sms_file, run):
    rp, person = make_client(), make_citizen()
    before = id_token_claims(browser, tokens_for(browser, sms_file, rp, person)["id_token"])["sub"]
    run("client", "update", rp.client_id, "--redirect-uri", "https://moved.example/cb")
    _cache_time_passes(app)
    db.session.refresh(rp.client)
    assert rp.redirect_uri == "https://moved.example/cb"

    after = id_token_claims(browser, tokens_for(browser, sms_file, rp, person)["id_token"])["sub"]
    assert after == before
    assert json.loads(run("client", "show", rp.client_id, "--json").stdout)["sector"] == "rp.example"


# -- what a disabled client gets ----------------------------------------------------------

def test_a_disabled_clients_citizen_gets_an_error_page_and_is_never_sent_to_its_redirect_uri(
        app, browser, run):
    rp = make_client()
    run("client", "disable", rp.client_id)
    _cache_time_passes(app)

    for method in ("get", "post"):
        attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
        call = browser.get if method == "get" else browser.post
        page = (call("/authorize", query_string=attempt.params(), headers={"Accept-Language": "en"})
                if method == "get" else
                call("/authorize", data=attempt.params(), headers={"Accept-Language": "en"}))
        assert page.status_code == 400 and "Location" not in page.headers
        text = page.get_data(as_text=True)
        assert "made an invalid request" in text and "invalid_client" in text
        assert f'href="{rp.redirect_uri}' not in text and f'action="{rp.redirect_uri}' not in text


def test_a_login_begun_before_the_client_was_disabled_ends_on_an_error_page_without_a_code(
        app, browser, sms_file, run):
    rp, person = make_client(), make_citizen()
    shown = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
    run("client", "disable", rp.client_id)
    _cache_time_passes(app)

    reloaded = browser.get(page_address(shown))
    assert reloaded.status_code == 400 and shows_message(reloaded, "session_expired")
    done = log_in(browser, shown, person.document, person.password, sms_file)
    assert done.status_code == 302 and done.headers["Location"] == "/account"  # the IdP's own login


def test_a_generated_client_id_never_begins_with_a_dash_that_the_commands_would_read_as_an_option(
        app, run, monkeypatch):
    drawn = iter(["-looks-like-an-option", "Gd3k9Qz1xWm2Lp0aB7cV5nRt"])
    real = secrets.random_token
    monkeypatch.setattr("idp.clients.secrets.random_token",
                        lambda nbytes=32: next(drawn) if nbytes == 18 else real(nbytes))
    created = json.loads(run("client", "create", "--name", "Sede", "--redirect-uri",
                             "https://rp.example/cb", "--json").stdout)
    assert created["client_id"] == "Gd3k9Qz1xWm2Lp0aB7cV5nRt"
    assert run("client", "show", created["client_id"]).exit_code == 0
