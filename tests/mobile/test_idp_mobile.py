"""The reference client ``idp-mobile`` against a running IdP, as the phone in a demo."""

from __future__ import annotations

import json
import re
import stat

import pytest
import requests
from click.testing import CliRunner

from idp_mobile import cli
from idp_mobile.client import MobileClient
from idp_mobile.device import DeviceKey
from tests.support.live import form_post, start_idp
from tests.support.mobile import code_shown_in, enrolled_citizen, mobile, qr_shown_on

PASSWORD = "Movil-Clave-2026!"
FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
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

    challenge = json.loads(shown.stdout)
    approved = mobile(state, "approve", challenge["id"], "--code", code_shown_in(page.text))
    assert approved.stdout.strip() == "approved", approved.stderr
    status = browser.get(f"{idp.url}/mobile/status/{challenge['id']}", timeout=10).json()
    assert status["status"] == "approved"


def test_pending_then_approve_asks_for_the_code_shown_in_the_browser(idp, tmp_path):
    document, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    waiting = form_post(browser, page, f"{idp.url}/mobile/push", document=document,
                        contrast_data="01012031")
    listed = mobile(state, "pending")
    challenge_id = re.search(r"Request (\S+)", listed.stdout).group(1)

    approved = mobile(state, "approve", challenge_id, stdin=code_shown_in(waiting.text) + "\n")

    assert "Code shown in the browser" in approved.stdout
    assert approved.stdout.strip().endswith("approved"), approved.stderr


def test_scan_and_pending_show_where_the_request_comes_from(idp, tmp_path):
    document, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    browser.headers["User-Agent"] = FIREFOX_ON_WINDOWS
    page = browser.get(f"{idp.url}/login", timeout=10)
    challenge_id = qr_shown_on(browser, page)
    form_post(browser, page, f"{idp.url}/mobile/push", document=document, contrast_data="01012031")

    scanned = mobile(state, "scan", f"{idp.url}/m/c/{challenge_id}")
    listed = mobile(state, "pending")

    for shown in (scanned.stdout, listed.stdout):
        assert "From address:   127.0.0.1" in shown
        assert "Browser:        Firefox on Windows" in shown
        assert re.search(r"Requested at:   \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shown)


def test_a_wrong_code_typed_in_the_app_denies_the_request(idp, tmp_path):
    _, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    challenge_id = qr_shown_on(browser, page)
    wrong = f"{(int(code_shown_in(page.text)) + 1) % 1000:03d}"

    refused = mobile(state, "approve", challenge_id, "--code", wrong)

    assert refused.returncode != 0 and "not the code shown in the browser" in refused.stderr
    status = browser.get(f"{idp.url}/mobile/status/{challenge_id}", timeout=10).json()
    assert status["status"] == "denied"


def test_deny_is_reported_and_a_second_decision_is_refused(idp, tmp_path):
    _, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    challenge_id = qr_shown_on(browser, page)
    denied = mobile(state, "deny", challenge_id)
    assert denied.stdout.strip() == "denied", denied.stderr
    again = mobile(state, "approve", challenge_id, "--code", code_shown_in(page.text))
    assert again.returncode != 0 and "challenge_unavailable" in again.stderr


def test_approving_with_a_blocked_password_exits_non_zero_and_says_why(idp, tmp_path):
    document, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    challenge = qr_shown_on(browser, page)
    idp.execute("UPDATE citizens SET password_blocked = :yes WHERE document = :document",
                yes=True, document=document)

    refused = mobile(state, "approve", challenge, "--code", code_shown_in(page.text))

    assert refused.returncode != 0 and "credential_blocked" in refused.stderr
    assert "approved" not in refused.stdout


def test_an_approval_the_idp_records_as_denied_exits_non_zero(tmp_path, monkeypatch):
    device = DeviceKey.generate()
    device.device_id, device.issuer = "device-1", "http://127.0.0.1:9"
    device.save(tmp_path / "device.json")
    monkeypatch.setattr(MobileClient, "decide", lambda *args, **kwargs: "denied")

    result = CliRunner().invoke(cli.main, ["--state", str(tmp_path / "device.json"),
                                           "approve", "abcdefgh", "--code", "123"])

    assert result.exit_code != 0 and "not approved" in result.output


def test_the_no_qr_path_shows_the_app_no_code_of_its_own(idp, tmp_path):
    """The browser shows the code and the citizen types it: the app's listing names none
    (a code shown by the app would be one the page does not show)."""
    document, state = enrolled(idp, tmp_path)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    waiting = form_post(browser, page, f"{idp.url}/mobile/push", document=document,
                        contrast_data="01012031")
    assert code_shown_in(waiting.text)

    listed = mobile(state, "pending")
    as_json = mobile(state, "pending", "--json")

    assert listed.returncode == 0 and "Request " in listed.stdout
    assert not re.search(r"code\s*:", listed.stdout, re.IGNORECASE)
    assert [name for challenge in json.loads(as_json.stdout) for name in challenge
            if "code" in name] == []


def test_commands_without_an_enrolled_device_explain_what_to_do(tmp_path):
    result = mobile(tmp_path / "none.json", "pending")
    assert result.returncode != 0 and "enroll" in result.stderr
