"""Fixtures for the interoperability tests: a live IdP (gunicorn, real HTTP) and the Node.js
relying party in this folder, whose dependencies ``make test`` installs with ``npm ci``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.live import LiveIdp, start_idp

HERE = Path(__file__).parent

RelyingParty = Callable[[str, dict], dict]


@pytest.fixture(scope="module")
def live_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    server = start_idp(tmp_path_factory.mktemp("interop"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def node() -> str:
    """The Node.js binary; the only reason these tests may skip is its absence."""
    found = shutil.which("node")
    if found is None:
        pytest.skip("node (Node.js >= 20) is not installed: the openid-client interop test needs it")
    if not (HERE / "node_modules" / "openid-client").is_dir():
        # make test runs npm ci first; a bare pytest run installs the pinned lock here.
        npm = shutil.which("npm")
        assert npm, "tests/interop/node_modules is missing and npm is not installed"
        subprocess.run([npm, "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                       check=True, capture_output=True, timeout=300)
    return found


@pytest.fixture
def relying_party(node: str) -> RelyingParty:
    """Run one command of ``rp.mjs`` (JSON on stdin, JSON on stdout); a failure shows the
    library's error, which is what an interop failure needs to be read by."""

    def run(command: str, data: dict) -> dict:
        done = subprocess.run([node, str(HERE / "rp.mjs"), command], input=json.dumps(data),
                              capture_output=True, text=True, timeout=30, cwd=HERE)
        assert done.returncode == 0, f"openid-client {command} failed: {done.stderr}"
        return json.loads(done.stdout)

    return run
