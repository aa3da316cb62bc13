"""The wheel is a real package: built from what a clone holds (no compiled catalogues in the
tree), installed into a fresh virtual environment, ``idp init --demo`` and ``idp serve``
serve translated pages. Slow (a build and an install from the package registry, through
pip's cache), so it runs in a group of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.live import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("idp", "demo_rp", "idp_mobile")
pytestmark = pytest.mark.xdist_group("wheel")


def clone_files() -> list[str]:
    """The files a fresh clone of this tree would hold: tracked or new, never ignored ones
    (such as the compiled catalogues ``make translations`` leaves here)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True, timeout=60).stdout
    return [name for name in listed.decode().split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source, dist = tmp_path_factory.mktemp("clone"), tmp_path_factory.mktemp("dist")
    for name in clone_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    assert not list(source.rglob("*.mo"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
                    str(dist), str(source)], check=True, timeout=600)
    (built,) = dist.glob("clave_idp-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies: its bin directory."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                    "--quiet", str(wheel)], check=True, timeout=900)
    return venv / "bin"


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``idp init --demo`` then ``idp serve`` in an empty directory, with the defaults."""
    work = tmp_path_factory.mktemp("served")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "DEMO_RP_"))}
    port = free_port()
    env["IDP_ISSUER"] = f"http://127.0.0.1:{port}"
    subprocess.run([str(installed / "idp"), "init", "--demo"], cwd=work, env=env, check=True,
                   capture_output=True, timeout=120)
    with (work / "idp.log").open("w") as log:
        server = subprocess.Popen([str(installed / "idp"), "serve", "--port", str(port), "--workers", "1"],
                                  cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_wheel_holds_every_file_of_the_packages_and_a_compiled_catalogue_per_language(wheel):
    with zipfile.ZipFile(wheel) as archive:
        contents = set(archive.namelist())
    shipped = {name for name in clone_files() if name.startswith(tuple(f"{p}/" for p in PACKAGES))}
    catalogues = {name.removesuffix(".po") + ".mo" for name in shipped if name.endswith(".po")}
    assert len(catalogues) == 7  # the IdP's six languages and the demo RP's Spanish
    assert shipped | catalogues <= contents
    assert "idp/migrations/script.py.mako" in contents and "idp/mobile/openapi.json" in contents


def test_the_installed_package_serves_spanish_pages_by_default(served):
    page = requests.get(f"{served}/login", timeout=10)
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert "Contraseña" in page.text and ">Password<" not in page.text


def test_the_installed_package_serves_every_other_language_it_announces(served):
    page = requests.get(f"{served}/login", headers={"Accept-Language": "ca"}, timeout=10)
    assert '<html lang="ca">' in page.text and "Contrasenya" in page.text


def test_the_installed_package_serves_its_static_files(served):
    assert requests.get(f"{served}/static/idp.css", timeout=10).status_code == 200
