"""Every file the product writes that holds a secret or personal data is its owner's alone
from the moment it exists (0600, directories 0700), whatever the umask it was started with."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from sqlalchemy import text

from idp import create_app
from idp.database import upgrade
from idp.dev_certificates import make_dev_certificates
from idp.documents import parse_document
from idp.extensions import db
from idp.oidc.keys import ensure_keys
from idp.sms import gateway_from_settings
from idp_mobile.device import DeviceKey
from tests.support.live import BIN


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def open_to_others(root: Path) -> dict[str, str]:
    """Every file and directory under ``root`` that a group or other users may touch."""
    return {str(path.relative_to(root)): oct(mode(path)) for path in [root, *root.rglob("*")]
            if not path.is_symlink() and mode(path) & 0o077}


@pytest.fixture
def loose_umask():  # type: ignore[no-untyped-def]
    """The usual umask (0644 files): a file that comes out 0600 was made so on purpose."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def no_chmod(monkeypatch):  # type: ignore[no-untyped-def]
    """A file fixed by chmod after it was written was open to others in between."""
    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("chmod after creation: the file was open to others until then")

    for owner, name in ((os, "chmod"), (os, "fchmod"), (Path, "chmod")):
        monkeypatch.setattr(owner, name, refuse)


def _fresh_app(**overrides: object):  # type: ignore[no-untyped-def]
    """The app as an operator starts it in the current directory: secret and database in
    instance/, made on the first start."""
    return create_app(IDP_SECRET_KEY="", IDP_DATABASE_URL="sqlite:///instance/idp.sqlite3",
                      IDP_KEYS_DIR="keys", IDP_SMS_BACKEND="file:instance/sms.jsonl", **overrides)


def test_secret_key_and_database_are_created_readable_only_by_their_owner(
        tmp_path, monkeypatch, loose_umask, no_chmod):
    monkeypatch.chdir(tmp_path)
    app = _fresh_app()
    with app.app_context():
        upgrade(app)
        with db.engine.connect() as connection:  # the WAL and its index exist while it is open
            connection.execute(text("INSERT INTO used_jwt_ids (jti_hash, expires_at) "
                                    "VALUES ('x', '2030-01-01 00:00:00')"))
            connection.commit()
            instance = tmp_path / "instance"
            modes = {path.name: mode(path) for path in instance.iterdir()}
        db.engine.dispose()
    assert mode(instance) == 0o700
    assert modes == {"secret_key": 0o600, "idp.sqlite3": 0o600, "idp.sqlite3-wal": 0o600,
                     "idp.sqlite3-shm": 0o600}


def test_an_existing_secret_key_and_database_open_to_others_are_tightened_and_logged(
        tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "secret_key").write_text("an-older-secret")
    (instance / "idp.sqlite3").write_bytes(b"")
    for path in instance.iterdir():
        path.chmod(0o644)
    app = _fresh_app()
    assert app.config["SECRET_KEY"] == "an-older-secret"
    assert {path.name: mode(path) for path in instance.iterdir()} == {
        "secret_key": 0o600, "idp.sqlite3": 0o600}
    log = capsys.readouterr().err
    assert log.count("was open to other users (mode 644): now to its owner only (600)") == 2


# Each process says it is ready, waits for the word, then builds its app and prints its key.
RACE = """
import sys
from idp import create_app
print("ready", flush=True)
sys.stdin.readline()
print(create_app(IDP_SECRET_KEY="", IDP_DATABASE_URL="sqlite://").config["SECRET_KEY"])
"""


def test_processes_starting_at_once_all_read_one_whole_secret_key(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("IDP_")}
    racers = [subprocess.Popen([sys.executable, "-c", RACE], cwd=tmp_path, env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(4)]
    assert all(racer.stdout.readline() == "ready\n" for racer in racers)  # type: ignore[union-attr]
    for racer in racers:  # all at once, before waiting for any
        racer.stdin.write("go\n")  # type: ignore[union-attr]
        racer.stdin.flush()  # type: ignore[union-attr]
    keys = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert len(keys) == 1 and len(keys.pop()) >= 64
    assert [path.name for path in (tmp_path / "instance").iterdir()] == ["secret_key"]


def test_signing_keys_are_created_readable_only_by_their_owner(tmp_path, loose_umask, no_chmod):
    ensure_keys(tmp_path / "keys")
    assert open_to_others(tmp_path / "keys") == {}


def test_a_signing_key_open_to_others_is_tightened_by_idp_init(tmp_path):
    ensure_keys(tmp_path / "keys")
    key = next((tmp_path / "keys").glob("*.pem"))
    key.chmod(0o640)
    ensure_keys(tmp_path / "keys")
    assert mode(key) == 0o600


def test_the_sms_file_is_created_readable_only_by_its_owner(tmp_path, loose_umask, no_chmod):
    path = tmp_path / "codes" / "sms.jsonl"
    gateway_from_settings(f"file:{path}").send("+34600111222", "Cl@ve: 123456")
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_an_sms_file_open_to_others_is_tightened_at_start(tmp_path):
    path = tmp_path / "sms.jsonl"
    path.write_text("")
    path.chmod(0o644)
    gateway_from_settings(f"file:{path}")
    assert mode(path) == 0o600


def test_development_private_keys_and_pkcs12_are_readable_only_by_their_owner(
        tmp_path, loose_umask, no_chmod):
    out = tmp_path / "dev-certificates"
    files = make_dev_certificates(out, parse_document("12345678Z"), given_name="María",
                                  surnames="García López", password="demo")
    private = {path.name for path in (files.key, files.pkcs12, out / "ca-key.pem")}
    assert {path.name for path in out.iterdir() if mode(path) == 0o600} >= private
    assert mode(out) == 0o700
    again = make_dev_certificates(out, parse_document("00000000T"), given_name="Ana",
                                  surnames="Ruiz", password="demo")
    assert mode(again.key) == mode(again.pkcs12) == 0o600


def test_the_device_state_file_is_written_readable_only_by_its_owner(tmp_path, loose_umask, no_chmod):
    state = tmp_path / "phone" / "state.json"
    DeviceKey.generate().save(state)
    assert mode(state) == 0o600 and mode(state.parent) == 0o700
    assert "d" in json.loads(state.read_text())["private_jwk"]


def test_the_device_key_is_never_written_through_a_file_planted_beside_the_state(tmp_path):
    state = tmp_path / "state.json"
    stolen = tmp_path / "stolen"
    state.with_suffix(".tmp").symlink_to(stolen)
    DeviceKey.generate().save(state)
    assert not stolen.exists()
    assert mode(state) == 0o600


@pytest.mark.parametrize("script,module", [("idp", "idp.cli"), ("idp-mobile", "idp_mobile.cli")])
def test_the_idp_command_runs_with_umask_077(script, module):
    target = next(point for point in entry_points(group="console_scripts") if point.name == script)
    assert target.value == f"{module}:run"
    # The command's main is swapped for one that reports the umask it was called with.
    code = f"import os, {module} as m; m.main = lambda: print(oct(os.umask(0o022))); m.run()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=60, preexec_fn=lambda: os.umask(0o022))
    assert done.stdout.strip() == "0o77"


def test_idp_init_demo_leaves_nothing_readable_by_other_users(tmp_path):
    env = {name: value for name, value in os.environ.items() if not name.startswith("IDP_")}
    env |= {"IDP_DATABASE_URL": "sqlite:///instance/idp.sqlite3", "IDP_KEYS_DIR": "keys",
            "IDP_SMS_BACKEND": "file:instance/sms.jsonl", "IDP_ARGON2_MEMORY_KIB": "1024",
            "IDP_ARGON2_TIME_COST": "1"}
    subprocess.run([str(BIN / "idp"), "init", "--demo"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=120, preexec_fn=lambda: os.umask(0o022))
    assert (tmp_path / "instance" / "secret_key").exists()
    assert (tmp_path / "instance" / "demo_client.json").exists()
    assert open_to_others(tmp_path) == {}
