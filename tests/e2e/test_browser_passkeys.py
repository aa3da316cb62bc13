"""Passkeys in a real Chromium with a virtual authenticator (Chrome DevTools Protocol,
WebAuthn domain, through Selenium): added on the account page, then the only thing a
citizen needs to reach a relying party at substantial level; removed, and refused; and all
of it by keyboard alone, in every language.

The IdP is known to the browser as ``localhost``: WebAuthn refuses an IP address as
relying party ID, and the issuer's host is the RP ID. Chromium answers a conditional
request (the passkeys offered in the DNI/NIE field) with the virtual authenticator at once,
as if the citizen had picked the passkey there; the button is exercised in a browser
without conditional mediation. One browser serves the module: each test starts without
cookies and with an empty authenticator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from idp.sms import latest_code
from tests.e2e import pages, tour
from tests.e2e.conftest import BROWSER_PREFERENCES, CHROMIUM_ARGUMENTS
from tests.e2e.keyboard import Keyboard
from tests.factories import DEFAULT_PASSWORD, new_dni
from tests.support.live import LiveIdp, active_citizen, start_idp

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_passkeys")]

SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
PASSKEY_UNKNOWN = "This passkey is not registered with Cl@ve, or it has been removed. Log in another way."


@pytest.fixture(scope="module")
def live_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    server = start_idp(tmp_path_factory.mktemp("e2e-passkeys-idp"), host="localhost")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(chromium_binaries: tuple[str, str],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """The module's Chromium, with a phone's or laptop's built-in authenticator: it keeps
    passkeys (resident keys) and verifies its user (PIN or biometrics), who always agrees."""
    binary, driver_path = chromium_binaries
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile: Path = tmp_path_factory.mktemp("chromium-passkeys")
    for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", BROWSER_PREFERENCES)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
        protocol=Protocol.CTAP2, transport=Transport.INTERNAL, has_resident_key=True,
        has_user_verification=True, is_user_verified=True, is_user_consenting=True))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def chrome(browser: WebDriver, live_idp: LiveIdp) -> WebDriver:
    """The module's browser as a new visitor's: no cookies, no passkey, a desktop window."""
    browser.get(live_idp.url + "/healthz")
    browser.delete_all_cookies()
    browser.remove_all_credentials()
    browser.set_window_size(1280, 900)
    return browser


@contextmanager
def without_conditional_mediation(driver: WebDriver) -> Iterator[None]:
    """Pages opened meanwhile look like a browser that cannot offer passkeys in a field."""
    script = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {
        "source": "delete PublicKeyCredential.isConditionalMediationAvailable;"})["identifier"]
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": script})


def add_passkey(driver: WebDriver, name: str) -> None:
    form = pages.wait(driver, ec.visibility_of_element_located(
        (By.CSS_SELECTOR, "form[data-passkey-enroll]")), "the form to add a passkey")
    pages.fill_and_submit(driver, form, name=name)


def press_the_passkey_button(driver: WebDriver) -> None:
    tab = pages.wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-tab='passkey']")),
                     "the Passkey tab")
    tab.click()
    button = pages.wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-passkey-start]")),
                        "the passkey button")
    pages.leaving_page(driver, button.click, "the page after the passkey")


def log_out(driver: WebDriver) -> None:
    pages.fill_and_submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action$='/session/end']"))


def test_a_passkey_added_on_the_account_page_alone_logs_in_at_the_relying_party_until_removed(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp) -> None:  # type: ignore[no-untyped-def]
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    pages.log_in_at_idp(chrome, live_idp, document=document, password=DEFAULT_PASSWORD)

    add_passkey(chrome, "Portátil")
    passkeys = chrome.find_element(By.CSS_SELECTOR, "section[aria-labelledby='passkeys-heading']")
    assert "Your passkey has been added." in passkeys.text
    assert passkeys.find_element(By.CSS_SELECTOR, "input[name='name'][value='Portátil']")
    assert len(chrome.get_credentials()) == 1  # kept by the authenticator, not by the IdP
    log_out(chrome)

    with without_conditional_mediation(chrome):
        pages.start_login_at_rp(chrome, demo_rp, live_idp)
        press_the_passkey_button(chrome)
        pages.allow_release(chrome)
        pages.wait_for_path(chrome, demo_rp.url + "/")
    assert SUBSTANTIAL in chrome.find_element(By.TAG_NAME, "body").text

    chrome.get(live_idp.url + "/account")
    remove = chrome.find_element(By.CSS_SELECTOR, "form[action$='/account/passkeys/remove'] button")
    pages.leaving_page(chrome, remove.click, "the account page after removing the passkey")
    assert "Your passkey has been removed" in chrome.find_element(By.TAG_NAME, "body").text
    log_out(chrome)

    chrome.get(live_idp.url + "/login")  # the browser offers the passkey it still holds
    pages.wait_for_path(chrome, live_idp.url + "/login/passkey")
    assert PASSKEY_UNKNOWN in chrome.find_element(By.ID, "passkey").text
    press_the_passkey_button(chrome)  # and with the button: refused alike
    assert PASSKEY_UNKNOWN in chrome.find_element(By.ID, "passkey").text


@pytest.mark.parametrize("language", tour.LANGUAGES)
def test_a_citizen_adds_renames_and_logs_in_with_a_passkey_by_keyboard_alone(
        chrome: WebDriver, live_idp: LiveIdp, language: str) -> None:
    """As tests/e2e/test_keyboard_only.py (a 360 px screen, Tab and Enter only), in each
    language: longer words must not push a control off screen or under another."""
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    tour.use_language(chrome, live_idp, language)
    chrome.set_window_size(360, 780)
    keys = Keyboard(chrome)
    with without_conditional_mediation(chrome):
        chrome.get(live_idp.url + "/login")
        keys.activate("a[data-tab='permanent']")
        keys.submit(document=document, password=DEFAULT_PASSWORD)
        keys.submit(otp=latest_code(live_idp.sms_file) or "")

        keys.tab_to("#passkey-name")
        keys.press("Mi portátil")
        keys.go("form[data-passkey-enroll] button[type='submit']")
        assert "passkey=added" in chrome.current_url and chrome.find_elements(By.CSS_SELECTOR, ".notice")
        keys.tab_to("form[action$='/rename'] input[name='name']")
        keys.press("Móvil")  # a field reached by Tab has its text selected: typing replaces it
        keys.go("form[action$='/rename'] button")
        renamed = chrome.find_element(By.CSS_SELECTOR, "form[action$='/rename'] input[name='name']")
        assert "passkey=renamed" in chrome.current_url and renamed.get_attribute("value") == "Móvil"
        keys.go("form[action$='/session/end'] button")

        chrome.get(live_idp.url + "/login")
        keys.activate("a[data-tab='passkey']")
        keys.go("[data-passkey-start]")
        pages.wait_for_path(chrome, live_idp.url + "/account")
