"""``idp dev-certificates`` prints lines a newcomer can paste: run here, as printed, against a
live IdP that trusts its CA, they register the certificate's holder and regenerate their
activation code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import new_dni
from tests.support.live import BIN, LiveIdp, start_idp

ACTIVATION_CODE = re.compile(r"^[A-Z0-9]{4}(-[A-Z0-9]{4})+$")
pytestmark = [pytest.mark.xdist_group("dev-certificates"),
              pytest.mark.skipif(shutil.which("curl") is None, reason="the printed lines use curl")]


def dev_certificates(folder: Path, issuer: str, *args: str) -> str:
    """The command as a newcomer runs it, from ``folder``, with its defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    return subprocess.run([str(BIN / "idp"), "dev-certificates", *args], cwd=folder, check=True,
                          env={**env, "IDP_ISSUER": issuer}, capture_output=True, text=True,
                          timeout=60).stdout


def lines_after(printed: str, heading: str) -> list[str]:
    """The indented lines of the paragraph that follows the line starting with ``heading``."""
    paragraphs = printed.split("\n\n")
    index = next(i for i, text in enumerate(paragraphs) if text.startswith(heading))
    body = paragraphs[index + 1].splitlines()
    assert all(line.startswith("  ") for line in body), body
    return [line.strip() for line in body]


def run_lines(folder: Path, *blocks: list[str]) -> str:
    script = "\n".join(line for block in blocks for line in block)
    return subprocess.run(["sh", "-c", script], cwd=folder, capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where the command ran once: the CA the IdP is told to trust."""
    folder = tmp_path_factory.mktemp("newcomer")
    dev_certificates(folder, "http://127.0.0.1:5000")
    return folder


@pytest.fixture(scope="module")
def idp(newcomer: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    """The IdP as the printed ``make run`` line configures it."""
    server = start_idp(tmp_path_factory.mktemp("idp"), IDP_TRUSTED_PROXIES="127.0.0.1",
                       IDP_TRUSTED_CA_FILE=str(newcomer / "instance" / "dev-certificates" / "ca.pem"))
    yield server
    server.stop()


def test_the_printed_lines_register_the_holder_then_give_them_a_new_activation_code(newcomer, idp):
    document = new_dni()
    printed = dev_certificates(newcomer, idp.url, "--document", document, "--given-name", "Íñigo",
                               "--surnames", "Peña Ibáñez", "--phone", "+34600222333")
    session = lines_after(printed, "In another terminal")

    registered = run_lines(newcomer, session, lines_after(printed, "Registration act"))
    regenerated = run_lines(newcomer, session, lines_after(printed, "New activation code"))

    assert ACTIVATION_CODE.match(registered) and ACTIVATION_CODE.match(regenerated)
    assert registered != regenerated
    shown = idp.cli_json("citizen", "show", document)
    names = (shown["given_name"], shown["first_surname"], shown["second_surname"])
    assert names == ("Íñigo", "Peña", "Ibáñez")
    assert (shown["email"], shown["phone"]) == ("inigo.pena@example.org", "+34600222333")
    assert (newcomer / "instance" / "dev-certificates" / f"{document}-cookies.txt").is_file()


def test_the_printed_make_run_line_trusts_the_ca_and_the_local_proxy(newcomer):
    printed = dev_certificates(newcomer, "http://127.0.0.1:5000")
    assert lines_after(printed, "Serve the IdP") == [
        "IDP_TRUSTED_CA_FILE=instance/dev-certificates/ca.pem IDP_TRUSTED_PROXIES=127.0.0.1 make run"]


def test_for_the_already_registered_holder_the_registration_line_says_it_refused(newcomer, idp):
    document = new_dni()
    printed = dev_certificates(newcomer, idp.url, "--document", document)
    session = lines_after(printed, "In another terminal")
    run_lines(newcomer, session, lines_after(printed, "Registration act"))

    again = run_lines(newcomer, session, lines_after(printed, "Registration act"))

    assert again.startswith("No activation code: the page refused")
