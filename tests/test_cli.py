"""The ``idp`` operator command, run against the test's own database and keys."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from idp.cli import main
from idp.extensions import db
from idp.oidc.models import Client
from tests.factories import new_dni
from tests.support.cli import cli_for


@pytest.fixture
def run(app, monkeypatch):  # type: ignore[no-untyped-def]
    return cli_for(app, monkeypatch)


def test_init_is_idempotent(run):
    assert run("init").exit_code == 0
    assert run("init").exit_code == 0


def test_init_makes_the_cl_ve_firma_ca_when_the_keys_directory_has_none(app, run):
    from pathlib import Path

    from idp.firma.ca import CA_FILE

    ca = Path(app.config["IDP_KEYS_DIR"]) / CA_FILE
    ca.unlink()

    assert run("init").exit_code == 0
    assert b"BEGIN CERTIFICATE" in ca.read_bytes()


def test_client_create_prints_the_id_and_secret_once_and_stores_only_a_hash(run):
    result = run("client", "create", "--name", "Sede", "--redirect-uri", "https://sede.example/cb",
                 "--json")
    data = json.loads(result.stdout)
    client = db.session.scalar(db.select(Client).filter_by(client_id=data["client_id"]))
    assert client.client_secret_hash and data["client_secret"] not in client.client_secret_hash
    assert client.check_client_secret(data["client_secret"])


def test_client_create_refuses_a_plain_http_redirect_outside_localhost(run):
    result = CliRunner().invoke(main, ["client", "create", "--name", "X", "--redirect-uri",
                                       "http://evil.example/cb"])
    assert result.exit_code != 0 and "https" in result.output


@pytest.mark.parametrize("option,uri", [
    ("--jwks-uri", "http://169.254.169.254/latest/meta-data/"),
    ("--jwks-uri", "https://10.0.0.7/jwks"),
    ("--backchannel-logout-uri", "http://rp.example.org/backchannel"),
    ("--backchannel-logout-uri", "https://127.0.0.1/backchannel"),
])
def test_client_create_refuses_uris_the_idp_would_call_on_private_or_plain_http_addresses(run, option, uri):
    result = CliRunner().invoke(main, ["client", "create", "--name", "X", "--redirect-uri",
                                       "https://sede.example/cb", option, uri])
    assert result.exit_code == 2 and option.removeprefix("--").replace("-", "_") in result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(Client)) == 0


def test_client_create_refuses_a_jwks_file_without_a_usable_public_key(run, tmp_path):
    for content in ("not json", '{"keys": []}', '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'):
        (tmp_path / "jwks.json").write_text(content)
        result = CliRunner().invoke(main, ["client", "create", "--name", "X", "--redirect-uri",
                                           "https://sede.example/cb", "--auth-method", "private_key_jwt",
                                           "--jwks-file", str(tmp_path / "jwks.json")])
        assert result.exit_code == 2 and "jwks" in result.output, result.output


def test_citizen_register_prints_the_activation_code_and_show_reveals_no_secret(run):
    document = new_dni()
    registered = json.loads(run(
        "citizen", "register", "--document", document.lower(), "--given-name", "Ana",
        "--first-surname", "Ruiz", "--email", "ana@example.org", "--phone", "+34 600 111 333",
        "--contrast-data", "CAA000111", "--json").stdout)
    assert registered["document"] == document
    shown = run("citizen", "show", document, "--json").stdout
    assert json.loads(shown)["status"] == "registered"
    assert registered["activation_code"] not in shown and "hash" not in shown


def test_citizen_register_refuses_a_wrong_control_letter(run):
    result = CliRunner().invoke(main, ["citizen", "register", "--document", "12345678A",
                                       "--given-name", "A", "--first-surname", "B", "--email",
                                       "a@example.org", "--phone", "+34600111333",
                                       "--contrast-data", "X"])
    assert result.exit_code != 0


@pytest.fixture
def demo_dir(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """``idp init --demo`` writes the demo RP's credentials under the working directory:
    the test's own, never the developer's ``instance/``."""
    monkeypatch.chdir(tmp_path)
    for name in ("DEMO_RP_BASE_URL", "DEMO_RP_CLIENT_FILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def demo_client(folder) -> Client:  # type: ignore[no-untyped-def]
    known = json.loads((folder / "instance" / "demo_client.json").read_text())
    db.session.expire_all()
    return db.session.scalar(db.select(Client).filter_by(client_id=known["client_id"]))


def test_init_demo_seeds_a_client_and_an_active_citizen(run, demo_dir):
    result = run("init", "--demo")
    assert "12345678Z" in result.stdout
    assert json.loads(run("citizen", "show", "12345678Z", "--json").stdout)["status"] == "active"
    assert demo_client(demo_dir).redirect_uris == ["http://127.0.0.1:5001/callback",
                                                   "http://127.0.0.1:5001/signed"]
    assert demo_client(demo_dir).signature_enabled


def test_init_demo_registers_the_demo_client_at_the_rp_address_it_is_given(run, demo_dir, monkeypatch):
    monkeypatch.setenv("DEMO_RP_BASE_URL", "http://127.0.0.1:6123/")
    result = run("init", "--demo")
    client = demo_client(demo_dir)
    assert client.redirect_uris == ["http://127.0.0.1:6123/callback", "http://127.0.0.1:6123/signed"]
    assert client.client_metadata["post_logout_redirect_uris"] == ["http://127.0.0.1:6123/logged-out"]
    assert "Demo relying party: http://127.0.0.1:6123 " in result.stdout


def test_init_demo_moves_the_demo_client_to_the_rp_s_new_address_and_audits_it(run, demo_dir, monkeypatch):
    run("init", "--demo")
    before = demo_client(demo_dir).client_id
    monkeypatch.setenv("DEMO_RP_BASE_URL", "http://127.0.0.1:6124")
    run("init", "--demo")
    run("init", "--demo")
    client = demo_client(demo_dir)
    assert (client.client_id, client.redirect_uris) == (
        before, ["http://127.0.0.1:6124/callback", "http://127.0.0.1:6124/signed"])
    tags = [json.loads(line)["tag"] for line in run("audit", "tail", "--json").stdout.splitlines()]
    assert tags.count("client_updated") == 1


def test_init_demo_refuses_an_rp_address_no_client_may_have(run, demo_dir, monkeypatch):
    monkeypatch.setenv("DEMO_RP_BASE_URL", "http://rp.example.org")
    result = CliRunner().invoke(main, ["init", "--demo"])
    assert result.exit_code != 0 and "DEMO_RP_BASE_URL" in result.output


def test_keys_rotate_lists_active_and_retired_keys(run):
    output = run("keys", "rotate").stdout
    assert output.count("active") == 2 and output.count("retired") == 2


def test_audit_tail_shows_recent_events_without_secrets(run):
    run("client", "create", "--name", "Sede", "--redirect-uri", "https://sede.example/cb")
    lines = run("audit", "tail", "--json").stdout.strip().splitlines()
    assert json.loads(lines[-1])["tag"] == "client_registered"
