"""The citizen's language in a real browser: chosen by the RP or the switcher, it stays on
every page the login page leads to; the header keeps to one line on a desktop.

The browser itself asks for English (tests/e2e/conftest.py), so a page that fell back to
the browser's language would show it.
"""

from __future__ import annotations

import pytest
from babel.support import Translations
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from idp.web import LANGUAGES, language_tag
from tests.e2e import pages, tour
from tests.support.live import LiveDemoRp, LiveIdp
from tests.test_translations import TRANSLATIONS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_language")]

# The login page's own links to the services, then the footer's (the account among them).
SERVICE_LINKS = "main ul.related a, footer nav a"
DESKTOP = 1280


def shown_language(driver: WebDriver) -> tuple[str, str]:
    """``<html lang>`` and the skip link's text (the first text of every page)."""
    return (driver.execute_script("return document.documentElement.lang"),
            driver.find_element(By.CSS_SELECTOR, ".skip-link").get_attribute("textContent").strip())


def in_language(locale: str) -> tuple[str, str]:
    return language_tag(locale), Translations.load(str(TRANSLATIONS), [locale]).gettext("Skip to content")


def start_login_at_rp_in(driver: WebDriver, rp: LiveDemoRp, idp: LiveIdp, language: str) -> None:
    """At the RP, choose the language it asks Cl@ve for (``ui_locales``), then log in."""
    driver.get(rp.url + "/")
    Select(driver.find_element(By.ID, "lang")).select_by_value(language)
    pages.leaving_page(driver, driver.find_element(By.CSS_SELECTOR, "button.button-clave").click,
                       "the IdP's login page")
    pages.wait_for_path(driver, idp.url + "/login")


def every_service_page(driver: WebDriver, login_page: str) -> dict[str, tuple[str, str]]:
    """Follow each service link of the login page in turn; what each page shows."""
    targets = dict.fromkeys(link.get_attribute("pathname")
                            for link in driver.find_elements(By.CSS_SELECTOR, SERVICE_LINKS))
    shown = {}
    for target in targets:
        driver.get(login_page)
        link = driver.find_element(By.CSS_SELECTOR, f"a[href='{target}']")
        pages.leaving_page(driver, link.click, f"the page behind {target}")
        shown[target] = shown_language(driver)
    return shown


def test_a_language_asked_by_the_rp_stays_on_every_page_the_login_page_links_to(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    start_login_at_rp_in(chrome, demo_rp, live_idp, "ca")
    assert shown_language(chrome) == in_language("ca")

    shown = every_service_page(chrome, chrome.current_url)
    assert {"/activate", "/password/change", "/password/forgot", "/activation-code/regenerate",
            "/register/certificate", "/unsubscribe", "/account"} <= shown.keys()
    assert {page: language for page, language in shown.items() if language != in_language("ca")} == {}
    chosen = Select(chrome.find_element(By.ID, "lang-select")).first_selected_option
    assert chosen.get_attribute("value") == "ca"  # the switcher shows it


def test_a_language_chosen_with_the_switcher_stays_on_every_page(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    start_login_at_rp_in(chrome, demo_rp, live_idp, "ca")  # the RP asked for Catalan
    Select(chrome.find_element(By.ID, "lang-select")).select_by_value("eu")
    pages.leaving_page(chrome, chrome.find_element(By.CSS_SELECTOR, "form.language button").click,
                       "the login page in the language chosen")
    assert shown_language(chrome) == in_language("eu")  # the citizen's choice wins

    shown = every_service_page(chrome, chrome.current_url)
    assert {page: language for page, language in shown.items() if language != in_language("eu")} == {}


def test_the_header_keeps_to_one_line_on_a_desktop_in_every_language(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    chrome.set_window_size(DESKTOP, 900)
    assert chrome.execute_script("return window.innerWidth") == DESKTOP
    wrapped = {}
    for language in LANGUAGES:
        tour.use_language(chrome, live_idp, language)
        chrome.get(live_idp.url + "/login")
        name_lines, side_by_side = chrome.execute_script("""
            const brand = document.querySelector(".brand").getBoundingClientRect();
            const form = document.querySelector("form.language").getBoundingClientRect();
            return [document.querySelector(".brand-text").getClientRects().length,
                    form.top < brand.bottom && brand.top < form.bottom];""")
        if name_lines != 1 or not side_by_side:
            wrapped[language] = {"lines of the site's name": name_lines,
                                 "language form beside it": side_by_side}
    assert wrapped == {}
