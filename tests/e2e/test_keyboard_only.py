"""Every flow of the seed page by keyboard alone, on a phone-sized screen (360 px): no
mouse, no click, no script run in the page to move on. Each step Tabs forward from the top
of the page to the control it needs, and every stop on the way must come later in the
page, show where the focus is, and be on screen uncovered (tests/e2e/keyboard.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from idp.sms import latest_code
from tests.e2e import pages, tour
from tests.e2e.keyboard import Keyboard
from tests.factories import new_dni
from tests.support.live import LiveDemoRp, LiveIdp, activate, register_citizen, start_idp
from tests.support.mobile import enrolled_citizen, mobile
from tests.support.pki import Authority, make_authority

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-keyboard_only")]

PASSWORD = "Teclado-Clave-2026"
NEW_PASSWORD = "Otra-Tecla-2027!"
EMAIL = "lucia@example.org"
ALLOW = "button[value='allow']"


@pytest.fixture(scope="module")
def authority() -> Authority:
    return make_authority()


@pytest.fixture(scope="module")
def live_idp(authority: Authority, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    """Trusts ``authority``'s certificates from 127.0.0.1 and sends SMS codes without
    waiting (a test logs in and then unsubscribes within seconds)."""
    base = tmp_path_factory.mktemp("e2e-keyboard-idp")
    (base / "cas.pem").write_bytes(authority.pem())
    server = start_idp(base, IDP_OTP_RESEND_INTERVAL="0", IDP_TRUSTED_CA_FILE=str(base / "cas.pem"),
                       IDP_TRUSTED_PROXIES="127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def keys(chrome: WebDriver) -> Keyboard:
    chrome.set_window_size(360, 780)
    return Keyboard(chrome)


def sms_code(idp: LiveIdp) -> str:
    code = latest_code(idp.sms_file)
    assert code, "the IdP sent no SMS"
    return code


def main_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "main").text


def test_citizen_activates_then_logs_in_to_a_service_by_keyboard_alone(
        chrome: WebDriver, keys: Keyboard, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    activation_code = register_citizen(live_idp, document, PASSWORD)

    chrome.get(live_idp.url + "/login")
    keys.go("main a[href='/activate']")
    keys.submit(document=document, email=EMAIL, activation_code=activation_code)
    keys.submit(otp=sms_code(live_idp))
    keys.submit(new_password=PASSWORD, new_password_confirm=PASSWORD)
    assert pages.heading(chrome) == "Your Permanent Cl@ve is active"

    chrome.get(demo_rp.url + "/")
    keys.go("button.button-clave")
    pages.wait_for_path(chrome, live_idp.url + "/login")
    keys.activate("a[data-tab='permanent']")
    keys.submit(document=document, password=PASSWORD)
    keys.submit(otp=sms_code(live_idp))
    keys.go(ALLOW)
    pages.wait_for_path(chrome, demo_rp.url + "/")
    assert pages.claims_in(chrome, "UserInfo response")["document_number"] == document


def test_citizen_changes_and_then_resets_a_forgotten_password_by_keyboard_alone(
        chrome: WebDriver, keys: Keyboard, live_idp: LiveIdp) -> None:
    document = new_dni()
    activation_code = register_citizen(live_idp, document, PASSWORD)
    activate(live_idp, document, activation_code, PASSWORD)

    chrome.get(live_idp.url + "/login")
    keys.go("main a[href='/password/change']")
    keys.submit(document=document, password=PASSWORD)
    keys.submit(otp=sms_code(live_idp))
    keys.submit(new_password=NEW_PASSWORD, new_password_confirm=NEW_PASSWORD)
    assert "Your password has been changed." in main_text(chrome)

    chrome.get(live_idp.url + "/login")
    keys.go("main a[href='/password/forgot']")
    keys.submit(document=document, activation_code=activation_code)
    keys.submit(otp=sms_code(live_idp))
    keys.submit(new_password=PASSWORD + "?", new_password_confirm=PASSWORD + "?")
    assert pages.heading(chrome) == "New password set"


def test_citizen_logs_in_to_the_account_page_and_unsubscribes_by_keyboard_alone(
        chrome: WebDriver, keys: Keyboard, live_idp: LiveIdp) -> None:
    document = new_dni()
    activate(live_idp, document, register_citizen(live_idp, document, PASSWORD), PASSWORD)

    chrome.get(live_idp.url + "/login")
    keys.activate("a[data-tab='permanent']")
    keys.submit(document=document, password=PASSWORD)
    keys.submit(otp=sms_code(live_idp))
    assert pages.heading(chrome) == "Your Cl@ve account"

    keys.go("main a[href='/unsubscribe']")
    keys.submit(document=document, password=PASSWORD)
    keys.submit(otp=sms_code(live_idp))
    keys.go("button.button-primary")
    assert pages.heading(chrome) == "Permanent Cl@ve cancelled"


def test_citizen_registers_and_regenerates_the_code_with_a_certificate_by_keyboard_alone(
        chrome: WebDriver, keys: Keyboard, live_idp: LiveIdp, authority: Authority) -> None:
    document = new_dni()
    certificate = authority.issue(serial_number=f"IDCES-{document}", given_name="LUCÍA",
                                  surname="MARTÍN ORTEGA")
    with tour.presenting(chrome, certificate):
        chrome.get(live_idp.url + "/login")
        keys.go("main a[href='/register/certificate']")
        keys.submit(email=EMAIL, phone="+34600111222", contrast_data="01012031")
        assert pages.heading(chrome) == "You are registered in Cl@ve"
        first = chrome.find_element(By.CSS_SELECTOR, ".receipt .activation-code").text

        chrome.get(live_idp.url + "/login")
        keys.go("main a[href='/activation-code/regenerate']")
        keys.go("main button.button-primary")
        second = chrome.find_element(By.CSS_SELECTOR, ".receipt .activation-code").text
    assert second != first


def test_citizen_sends_the_login_to_the_app_and_switches_language_by_keyboard_alone(
        chrome: WebDriver, keys: Keyboard, live_idp: LiveIdp, demo_rp: LiveDemoRp,
        tmp_path: Path) -> None:
    document, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    chrome.get(demo_rp.url + "/")
    keys.go("button.button-clave")
    pages.wait_for_path(chrome, live_idp.url + "/login")

    keys.tab_to("#lang-select")
    keys.press("Galego")  # a closed select picks the option its name is typed of
    keys.go("form.language button[type='submit']")
    assert chrome.execute_script("return document.documentElement.lang") == "gl"

    keys.activate("details.no-qr summary")
    keys.type_into(document=document, contrast_data="01012031")
    keys.go("details.no-qr button[type='submit']")
    code = pages.wait(chrome, ec.visibility_of_element_located((By.CSS_SELECTOR, ".verification-code")),
                      "the code to type in the app").text
    pending = mobile(phone, "pending", "--json")
    request_id = json.loads(pending.stdout)[0]["id"]
    approved = mobile(phone, "approve", request_id, stdin=code + "\n")  # typed at its prompt
    assert approved.stdout.strip().endswith("approved"), approved.stderr

    pages.wait(chrome, ec.presence_of_element_located((By.CSS_SELECTOR, ALLOW)), "the consent page")
    keys.go(ALLOW)
    pages.wait_for_path(chrome, demo_rp.url + "/")


def test_citizen_signs_a_document_an_rp_asks_for_by_keyboard_alone(
        chrome: WebDriver, keys: Keyboard, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    activate(live_idp, document, register_citizen(live_idp, document, PASSWORD), PASSWORD)
    chrome.get(demo_rp.url + "/sign")
    keys.go("main form button")
    pages.wait_for_path(chrome, live_idp.url + "/login")
    keys.activate("a[data-tab='permanent']")
    keys.submit(document=document, password=PASSWORD)
    keys.submit(otp=sms_code(live_idp))
    pages.wait(chrome, lambda d: "/signature/" in d.current_url, "the review page")

    keys.go(".decision form:first-child button")  # Sign
    keys.submit(otp=sms_code(live_idp))
    pages.wait_for_path(chrome, demo_rp.url + "/signed")
    assert chrome.find_element(By.ID, "signature-verdict").text == (
        "The document is signed, and the signature is valid.")
