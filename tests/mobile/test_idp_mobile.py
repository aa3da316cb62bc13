"""The reference client ``idp-mobile`` against a running IdP, as the phone in a demo."""

from __future__ import annotations

import re
import stat

import pytest
import requests

from tests.support.live import start_idp
from tests.support.mobile import enrolled_citizen, mobile

PASSWORD = "Movil-Clave-2026!"
pytestmark = pytest.mark.xdist_group("idp-mobile")


@pytest.fixture(scope="module")
def idp(tmp_path_factory):  # type: ignore[no-untyped-def]
    server = start_idp(tmp_path_factory.mktemp("live-mobile"))
    yield server
    server.stop()


def enrolled(idp, tmp_path):  # type: ignore[no-untyped-def]
    return enrolled_citizen(idp, tmp_path, PASSWORD)


def test_enroll_keeps_the_device_key_in_a_private_file(idp, tmp_path):
    _, state = enrolled(idp, tmp_path)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert '"d"' in state.read_text()


def test_scan_of_the_qr_image_then_approve_logs_the_browser_in(idp, tmp_path):
    _, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    image_url = re.search(r'class="qr" src="([^"]+)"', page.text).group(1)
    png = tmp_path / "qr.png"
    png.write_bytes(browser.get(idp.url + image_url, timeout=10).content)
    shown = mobile(state, "scan", str(png), "--json")
    assert shown.returncode == 0, shown.stderr
    import json

    challenge = json.loads(shown.stdout)
    assert challenge["verification_code"] in page.text
    approved = mobile(state, "approve", challenge["id"])
    assert approved.stdout.strip() == "approved", approved.stderr
    status = browser.get(f"{idp.url}/mobile/status/{challenge['id']}", timeout=10).json()
    assert status["status"] == "approved"


def test_pending_and_approve_with_the_number_shown_on_screen(idp, tmp_path):
    document, state = enrolled(idp, tmp_path)
    from tests.support.live import form_post

    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    waiting = form_post(browser, page, f"{idp.url}/mobile/push", document=document,
                        contrast_data="01012031")
    number = re.search(r'class="match-number"[^>]*>(\d+)<', waiting.text).group(1)
    listed = mobile(state, "pending")
    challenge_id = re.search(r"Request (\S+)", listed.stdout).group(1)
    approved = mobile(state, "approve", challenge_id, "--number", number)
    assert approved.stdout.strip() == "approved", approved.stderr


def test_deny_is_reported_and_a_second_decision_is_refused(idp, tmp_path):
    _, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    challenge_id = re.search(r'data-challenge="([^"]+)"', page.text).group(1)
    denied = mobile(state, "deny", challenge_id)
    assert denied.stdout.strip() == "denied", denied.stderr
    again = mobile(state, "approve", challenge_id)
    assert again.returncode != 0 and "challenge_unavailable" in again.stderr


def test_commands_without_an_enrolled_device_explain_what_to_do(tmp_path):
    result = mobile(tmp_path / "none.json", "pending")
    assert result.returncode != 0 and "enroll" in result.stderr
