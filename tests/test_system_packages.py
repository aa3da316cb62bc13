"""scripts/ensure-system-packages.sh: silent and rootless when everything is installed; when a
package is missing, it says which and why before installing it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure-system-packages.sh"


def run_with_recording_apt(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    """Run the script with ``apt-get`` and ``sudo`` replaced by stand-ins that only record
    how they were called; (its result, what was recorded)."""
    fakes, record = tmp_path / "bin", tmp_path / "calls.txt"
    fakes.mkdir()
    for name, body in (("apt-get", f'echo "apt-get $*" >> {record}'), ("sudo", 'exec "$@"')):
        (fakes / name).write_text(f"#!/bin/sh\n{body}\n")
        (fakes / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)
    return result, record.read_text() if record.exists() else ""


def test_nothing_is_run_and_nothing_said_when_every_package_is_installed(tmp_path):
    result, calls = run_with_recording_apt(tmp_path, "--why", "the demo needs it", "bash", "dpkg")
    assert (result.returncode, result.stdout, result.stderr, calls) == (0, "", "", "")


def test_a_missing_package_is_named_with_the_reason_before_it_is_installed(tmp_path):
    result, calls = run_with_recording_apt(tmp_path, "--why", "idp-mobile reads QR images with zbar",
                                           "bash", "clave-idp-no-such-package")
    assert result.returncode == 0, result.stderr
    assert "clave-idp-no-such-package (needed because idp-mobile reads QR images with zbar)" in result.stdout
    installed = calls.splitlines()[-1]
    assert installed == "apt-get install -y -qq --no-install-recommends clave-idp-no-such-package"
