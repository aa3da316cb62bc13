"""Cl@ve mobile in a real browser (SPEC §7): the citizen's phone is the reference app,
``idp-mobile``, enrolled through the real API.

The QR code is read the way a phone reads it: from the pixels Chromium rendered
(a screenshot of the image, decoded with zbar); the code to type in the app is read from
the rendered page, as the citizen reads it; the browser then goes on by itself, without a
click, once the phone has decided.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from pyzbar.pyzbar import decode
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from tests.e2e import pages
from tests.support.live import LiveDemoRp, LiveIdp
from tests.support.mobile import enrolled_citizen, mobile

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_mobile")]

PASSWORD = "Movil-Clave-2026!"
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"


def scan_screen(driver: WebDriver) -> str:
    """What a phone reads from the QR code on the screen."""
    image = pages.wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, "img.qr")),
                       "the QR code")
    pages.wait(driver, lambda d: d.execute_script("return arguments[0].complete && "
                                                  "arguments[0].naturalWidth > 0", image),
               "the QR image to load")
    symbols = decode(Image.open(io.BytesIO(image.screenshot_as_png)))
    assert len(symbols) == 1, "no readable QR code on the screen"
    return symbols[0].data.decode()


def code_on_screen(driver: WebDriver) -> str:
    """The code the page tells the citizen to type in the app."""
    return pages.wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".verification-code")),
                      "the code to type in the app").text


def told_to_the_app(request: dict) -> list:
    """The values of a request as the app receives it (its origin's included)."""
    return [*request.values(), *request["origin"].values()]


def read_request(state: Path, link: str) -> dict:
    """``idp-mobile scan``: what the app shows about the request before deciding."""
    shown = mobile(state, "scan", link, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def test_citizen_scans_the_qr_on_screen_approves_in_the_app_and_the_browser_continues_alone(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp, tmp_path: Path) -> None:
    document, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    pages.start_login_at_rp(chrome, demo_rp, live_idp)

    request = read_request(phone, scan_screen(chrome))
    assert demo_rp.name in json.dumps(request, ensure_ascii=False)  # the app says who asks
    assert request["origin"]["browser"] == "Chrome"  # and from where: this very browser
    code = code_on_screen(chrome)
    assert code not in told_to_the_app(request)  # the citizen must read it on the screen

    approved = mobile(phone, "approve", request["id"], stdin=code + "\n")  # typed at its prompt
    assert approved.stdout.strip().endswith("approved"), approved.stderr

    pages.allow_release(chrome)  # reached without a click: the page saw the approval
    pages.wait_for_path(chrome, demo_rp.url + "/")
    id_token = pages.claims_in(chrome, "ID token claims")
    assert id_token["acr"] == SUBSTANTIAL
    assert "swk" in id_token["amr"]
    assert pages.claims_in(chrome, "UserInfo response")["document_number"] == document

    again = mobile(phone, "approve", request["id"], "--code", code)  # a QR code is used once
    assert again.returncode != 0 and "challenge_unavailable" in again.stderr


def test_a_request_denied_in_the_app_is_refused_on_screen_and_can_be_started_again(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp, tmp_path: Path) -> None:
    _, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    request = read_request(phone, scan_screen(chrome))

    assert mobile(phone, "deny", request["id"]).stdout.strip() == "denied"

    refusal = pages.error_summary(chrome)
    assert "The request was denied in the Cl@ve app" in refusal
    pages.follow_link(chrome, "Try again")
    assert read_request(phone, scan_screen(chrome))["id"] != request["id"]  # a new QR code


def test_an_expired_qr_code_is_announced_and_the_app_can_no_longer_approve_it(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp, tmp_path: Path) -> None:
    _, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    request, code = read_request(phone, scan_screen(chrome)), code_on_screen(chrome)

    # Five minutes pass (in the server's database: its clock cannot be moved from here).
    assert live_idp.execute("UPDATE mobile_challenges SET expires_at = :past WHERE id = :id",
                            past="2000-01-01 00:00:00", id=request["id"]) == 1

    assert "The request has expired or was already used." in pages.error_summary(chrome)
    refused = mobile(phone, "approve", request["id"], "--code", code)
    assert refused.returncode != 0 and "challenge_unavailable" in refused.stderr


def test_an_app_revoked_from_the_account_page_cannot_approve_a_login(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp, tmp_path: Path) -> None:
    document, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    pages.log_in_at_idp(chrome, live_idp, document=document, password=PASSWORD)
    devices = chrome.find_element(By.CSS_SELECTOR, "section[aria-labelledby='devices-heading']")
    pages.fill_and_submit(chrome, devices.find_element(By.TAG_NAME, "form"))
    assert "The app has been revoked" in chrome.find_element(By.CSS_SELECTOR, ".notice").text
    pages.fill_and_submit(chrome, chrome.find_element(By.CSS_SELECTOR, "form[action$='/session/end']"))

    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    refused = mobile(phone, "scan", scan_screen(chrome))
    assert refused.returncode != 0 and "unknown_device" in refused.stderr


def test_without_the_qr_the_citizen_types_the_code_on_screen_in_the_app(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp, tmp_path: Path) -> None:
    document, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    chrome.find_element(By.CSS_SELECTOR, "details.no-qr summary").click()
    pages.fill_and_submit(chrome, pages.form_with(chrome, "contrast_data"), document=document,
                          contrast_data="01012031")
    code = code_on_screen(chrome)

    listed = json.loads(mobile(phone, "pending", "--json").stdout)
    assert len(listed) == 1 and code not in told_to_the_app(listed[0])
    approved = mobile(phone, "approve", listed[0]["id"], "--code", code)
    assert approved.stdout.strip() == "approved", approved.stderr

    pages.allow_release(chrome)
    pages.wait_for_path(chrome, demo_rp.url + "/")
    assert pages.claims_in(chrome, "ID token claims")["acr"] == SUBSTANTIAL


def test_a_wrong_code_typed_in_the_app_is_refused_on_screen(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp, tmp_path: Path) -> None:
    document, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    chrome.find_element(By.CSS_SELECTOR, "details.no-qr summary").click()
    pages.fill_and_submit(chrome, pages.form_with(chrome, "contrast_data"), document=document,
                          contrast_data="01012031")
    wrong = f"{(int(code_on_screen(chrome)) + 1) % 1000:03d}"  # a blind guess
    request_id = json.loads(mobile(phone, "pending", "--json").stdout)[0]["id"]

    refused = mobile(phone, "approve", request_id, "--code", wrong)

    assert refused.returncode != 0 and "not the code shown in the browser" in refused.stderr
    assert "The request was denied in the Cl@ve app" in pages.error_summary(chrome)
