"""The live password checklist and strength meter agree with the server's rules
(idp.passwords), and without JavaScript the form still works with the server's answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from idp import passwords
from tests.e2e import pages
from tests.factories import DEFAULT_PASSWORD, new_dni
from tests.support.live import LiveIdp, register_citizen, start_idp

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_password_checklist")]

# Each rule the browser can decide, met and failed; a pass-phrase; sequences and repeats.
TYPED = ["", "a", "abcdefgh", "ABCDEFGH1!", "Abcdefg1", "Abcdef1!", "Ñandú-2026", "Clave 2026!",
         "Clave€2026x", "una frase larga sin reglas", "qwerty-Clave-1", "Aaa111!!!x",
         "ÁRBOL-verde-9", "short1!A", "Z" * 15 + "!", "z" * 16]


@pytest.fixture(scope="module")
def live_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    server = start_idp(tmp_path_factory.mktemp("e2e-checklist-idp"), IDP_OTP_RESEND_INTERVAL="0")
    yield server
    server.stop()


def reach_the_password_step(driver: WebDriver, idp: LiveIdp) -> None:
    document = new_dni()
    code = register_citizen(idp, document, DEFAULT_PASSWORD)
    driver.get(idp.url + "/activate")
    pages.fill_and_submit(driver, pages.form_with(driver, "activation_code"), document=document,
                          email="lucia@example.org", activation_code=code)
    pages.enter_sms_code(driver, idp)
    pages.form_with(driver, "new_password")


def shown_state(driver: WebDriver) -> dict[str, str]:
    return {item.get_attribute("data-key"): item.get_attribute("data-state")
            for item in driver.find_elements(By.CSS_SELECTOR, "[data-password-checklist] [data-rule]")}


def test_the_checklist_ticks_exactly_the_rules_the_server_applies(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    reach_the_password_step(chrome, live_idp)
    field = chrome.find_element(By.NAME, "new_password")
    nobody = passwords.PersonalData("Zzz", "Qqq", None, "00000000T")
    for typed in TYPED:
        field.clear()
        field.send_keys(typed or " \b")  # an input event even for the empty password
        failed = set(passwords.check_password(typed, nobody))
        expected = {rule.key: "server" if rule.kind == "server"
                    else "unmet" if rule.key in failed else "met"
                    for rule in passwords.checklist()}
        assert shown_state(chrome) == expected, typed
        meter = chrome.find_element(By.CSS_SELECTOR, "[data-strength]")
        assert meter.is_displayed() == bool(typed), typed
        if typed:
            assert int(meter.get_attribute("data-score")) == passwords.strength(typed), typed
            shown = {item.get_attribute("data-warning") for item in chrome.find_elements(
                By.CSS_SELECTOR, "[data-warning]") if item.is_displayed()}
            warned = {"sequence" if key == "warning_keyboard_sequence" else "repeated"
                      for key in passwords.password_warnings(typed)}
            assert shown == warned, typed


def test_each_rule_says_in_words_whether_it_is_met(chrome: WebDriver, live_idp: LiveIdp) -> None:
    reach_the_password_step(chrome, live_idp)
    chrome.find_element(By.NAME, "new_password").send_keys("abc")
    lines = [" ".join(item.text.split()) for item in chrome.find_elements(By.CSS_SELECTOR, "[data-rule]")]
    assert "Use at least 8 characters. (rule not met yet)" in lines
    assert any(line.endswith("(rule met)") for line in lines)
    assert any(line.endswith("(checked when you save)") for line in lines)


def test_without_javascript_the_server_lists_every_failed_rule(
        open_browser, live_idp: LiveIdp) -> None:  # type: ignore[no-untyped-def]
    chrome = open_browser()
    chrome.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    reach_the_password_step(chrome, live_idp)
    assert not chrome.find_elements(By.CSS_SELECTOR, "[data-rule][data-state]")  # plain list
    pages.choose_new_password(chrome, "abc")
    summary = pages.error_summary(chrome)
    assert "Use at least 8 characters." in summary
    assert "Include a digit (or use 16 characters or more)." in summary
    pages.choose_new_password(chrome, DEFAULT_PASSWORD)
    assert pages.heading(chrome) == "Your Permanent Cl@ve is active"
