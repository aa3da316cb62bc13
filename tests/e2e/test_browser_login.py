"""A citizen in a real browser: activation, login at the demo RP, logout, a wrong password.

Each test runs start to finish in headless Chromium against a live IdP and the live demo
RP, reading SMS codes from the IdP's file SMS backend.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from idp.sms import latest_code, read_sms_file
from tests.e2e import pages
from tests.factories import DEFAULT_PASSWORD, new_dni
from tests.support.live import LiveDemoRp, LiveIdp, active_citizen, register_citizen

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_login")]

SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
EMAIL = "lucia@example.org"  # what register_citizen records by default


def test_citizen_activates_then_logs_in_at_the_demo_rp_and_sees_their_claims(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    code = register_citizen(live_idp, document, DEFAULT_PASSWORD, first_surname="Martín",
                            second_surname="Ortega")

    pages.activate(chrome, live_idp, document=document, email=EMAIL, activation_code=code,
                   password=DEFAULT_PASSWORD)
    assert chrome.find_element(By.TAG_NAME, "h1").text == "Your Permanent Cl@ve is active"

    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    assert chrome.find_element(By.CSS_SELECTOR, ".requester strong").text == demo_rp.name
    pages.fill_and_submit(chrome, pages.show_permanent_clave(chrome), document=document,
                          password=DEFAULT_PASSWORD)
    pages.enter_sms_code(chrome, live_idp)

    pages.wait_for_path(chrome, live_idp.url + "/consent")
    assert chrome.find_element(By.TAG_NAME, "h1").text == f"{demo_rp.name} asks for your data"
    released = dict(zip([dt.text for dt in chrome.find_elements(By.CSS_SELECTOR, "dl.claims dt")],
                        [dd.text for dd in chrome.find_elements(By.CSS_SELECTOR, "dl.claims dd")],
                        strict=True))
    assert released["Full name"] == "Lucía Martín Ortega"
    assert released["Identity document"] == f"DNI {document}"
    assert released["E-mail address"] == f"{EMAIL} (verified)"
    pages.allow_release(chrome)

    pages.wait_for_path(chrome, demo_rp.url + "/")
    id_token = pages.claims_in(chrome, "ID token claims")
    userinfo = pages.claims_in(chrome, "UserInfo response")
    assert id_token["acr"] == SUBSTANTIAL
    assert id_token["iss"] == live_idp.url
    assert userinfo["document_number"] == document
    assert userinfo["first_surname"] == "Martín"
    assert userinfo["second_surname"] == "Ortega"


def test_logout_at_the_rp_ends_the_idp_session(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    pages.log_in_at_rp(chrome, demo_rp, live_idp, document=document, password=DEFAULT_PASSWORD)

    chrome.find_element(By.LINK_TEXT, "Log out").click()
    pages.wait_for_path(chrome, demo_rp.url + "/logged-out")
    assert chrome.find_element(By.TAG_NAME, "h1").text == "You have logged out"

    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    form = pages.show_permanent_clave(chrome)  # asked again: no silent single sign-on
    assert form.find_element(By.NAME, "password").get_attribute("value") == ""


def test_wrong_password_shows_a_clear_error_and_keeps_the_document(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    pages.start_login_at_rp(chrome, demo_rp, live_idp)

    typed = f"{document[:4]} {document[4:]}".lower()  # as people type it
    pages.fill_and_submit(chrome, pages.show_permanent_clave(chrome), document=typed,
                          password="Not-My-Password-1")

    form = pages.form_with(chrome, "password")  # the Permanent Cl@ve tab stays open
    summary = chrome.find_element(By.CSS_SELECTOR, ".error-summary")
    assert "The DNI/NIE or the password is not correct." in summary.text
    password = form.find_element(By.NAME, "password")
    assert password.get_attribute("aria-invalid") == "true"
    assert password.get_attribute("value") == ""
    assert form.find_element(By.NAME, "document").get_attribute("value") == document

    # Only the password needs typing again.
    pages.fill_and_submit(chrome, form, password=DEFAULT_PASSWORD)
    pages.form_with(chrome, "otp")


def test_reloading_the_sms_page_answered_to_the_password_keeps_the_first_code_and_sends_no_other(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    sent_before = len(read_sms_file(live_idp.sms_file))
    pages.start_login_at_rp(chrome, demo_rp, live_idp)
    pages.fill_and_submit(chrome, pages.show_permanent_clave(chrome), document=document,
                          password=DEFAULT_PASSWORD)
    pages.form_with(chrome, "otp")
    first_code = latest_code(live_idp.sms_file)

    pages.wait_for_path(chrome, live_idp.url + "/login/otp")  # the page's own address, by script
    chrome.refresh()  # a GET of that address: nothing is posted again

    pages.fill_and_submit(chrome, pages.form_with(chrome, "otp"), otp=first_code or "")
    pages.wait_for_path(chrome, live_idp.url + "/consent")
    assert len(read_sms_file(live_idp.sms_file)) == sent_before + 1
