"""The citizen's account page and unsubscription, in real browsers (SPEC §3.7, §6).

The same citizen uses two browsers here, so the live IdP of this module lets a new SMS code
be sent at once (``IDP_OTP_RESEND_INTERVAL=0``): a real citizen logging in on a second
device within 30 seconds would be asked to wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e import pages
from tests.factories import DEFAULT_PASSWORD, new_dni
from tests.support.live import LiveDemoRp, LiveIdp, activate, active_citizen, register_citizen, start_idp

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_account")]

LOGIN_FAILED = "The DNI/NIE or the password is not correct."


@pytest.fixture(scope="module")
def live_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    server = start_idp(tmp_path_factory.mktemp("e2e-account-idp"), IDP_OTP_RESEND_INTERVAL="0")
    yield server
    server.stop()


def session_rows(driver: WebDriver) -> list[str]:
    return [row.text for row in driver.find_elements(
        By.CSS_SELECTOR, "section[aria-labelledby='sessions-heading'] tbody tr")]


def refresh_at_rp(driver: WebDriver) -> None:
    pages.fill_and_submit(driver, driver.find_element(By.CSS_SELECTOR, "form[action$='/refresh']"))


def test_account_page_shows_the_registered_data_and_what_happened(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    pages.try_password(chrome, live_idp, document=document, password="Not-The-Password-1")

    pages.log_in_at_idp(chrome, live_idp, document=document, password=DEFAULT_PASSWORD)

    assert pages.heading(chrome) == "Your Cl@ve account"
    data = chrome.find_element(By.CSS_SELECTOR, "section[aria-labelledby='data-heading']").text
    for shown in ("Lucía", "Martín Ortega", document, "lucia@example.org", "222"):
        assert shown in data
    assert "600111" not in data  # the phone is masked
    activity = chrome.find_element(By.CSS_SELECTOR, "section[aria-labelledby='activity-heading']").text
    assert "Wrong password entered" in activity and "Logged in" in activity
    assert len(session_rows(chrome)) == 1 and "(this device)" in session_rows(chrome)[0]


def test_ending_a_session_from_the_account_logs_the_other_browser_out_and_stops_its_rp_tokens(
        open_browser: Callable[[], WebDriver], live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    laptop, phone = open_browser(), open_browser()
    pages.log_in_at_rp(phone, demo_rp, live_idp, document=document, password=DEFAULT_PASSWORD)
    pages.log_in_at_idp(laptop, live_idp, document=document, password=DEFAULT_PASSWORD)

    rows = session_rows(laptop)
    assert len(rows) == 2
    other = next(row for row in laptop.find_elements(
        By.CSS_SELECTOR, "section[aria-labelledby='sessions-heading'] tbody tr")
        if "(this device)" not in row.text)
    pages.fill_and_submit(laptop, other.find_element(By.TAG_NAME, "form"))
    assert "That session has been closed." in laptop.find_element(By.CSS_SELECTOR, ".notice").text
    assert len(session_rows(laptop)) == 1

    refresh_at_rp(phone)  # the RP's refresh token died with the session
    assert pages.heading(phone) == "Tokens refused"
    phone.get(live_idp.url + "/account")
    pages.wait_for_path(phone, live_idp.url + "/login")


def test_unsubscribing_ends_everything_and_a_new_registration_act_brings_the_citizen_back(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    pages.log_in_at_rp(chrome, demo_rp, live_idp, document=document, password=DEFAULT_PASSWORD)

    chrome.get(live_idp.url + "/login")
    pages.follow_link(chrome, "Unsubscribe from Permanent Cl@ve")
    pages.fill_and_submit(chrome, pages.form_with(chrome, "password"), document=document,
                          password=DEFAULT_PASSWORD)
    for _ in range(4):  # more than 3 wrong codes: the flow starts again
        pages.fill_and_submit(chrome, pages.form_with(chrome, "otp"), otp="000000")
    assert "start the unsubscription again from the beginning" in chrome.find_element(
        By.TAG_NAME, "main").text
    pages.fill_and_submit(chrome, pages.form_with(chrome, "password"), document=document,
                          password=DEFAULT_PASSWORD)
    pages.enter_sms_code(chrome, live_idp)
    assert pages.heading(chrome) == "Do you want to cancel your Permanent Cl@ve?"
    pages.fill_and_submit(chrome, chrome.find_element(By.CSS_SELECTOR, ".decision form"))
    assert "Your Permanent Cl@ve has been cancelled." in chrome.find_element(By.TAG_NAME, "main").text

    chrome.get(demo_rp.url + "/")
    refresh_at_rp(chrome)
    assert pages.heading(chrome) == "Tokens refused"

    answers = []
    for who in (document, new_dni()):  # like a document that was never registered
        pages.try_password(chrome, live_idp, document=who, password=DEFAULT_PASSWORD)
        answers.append(pages.error_summary(chrome))
    assert answers[0] == answers[1] and LOGIN_FAILED in answers[0]

    code = register_citizen(live_idp, document, DEFAULT_PASSWORD)  # a new registration act
    activate(live_idp, document, code, "Vuelvo-A-Clave-2027!")
    pages.log_in_at_idp(chrome, live_idp, document=document, password="Vuelvo-A-Clave-2027!")
