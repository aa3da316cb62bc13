"""Cl@ve Firma in a real browser: the demo RP asks for a signature of a PDF, the citizen logs
in, reads the review page and authorises the signature with an SMS code, or in the Cl@ve app
(``idp-mobile``, shown the document's name and SHA-256), and is back at the RP, which shows
pyHanko's validation of the signed PDF against the CA the IdP publishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec

from tests.e2e import pages
from tests.factories import new_dni
from tests.support.live import LiveDemoRp, LiveIdp, active_citizen
from tests.support.mobile import enrolled_citizen, mobile

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_signature")]

PASSWORD = "Firma-Clave-2026!"


def ask_for_a_signature_at_the_rp(driver: WebDriver, rp: LiveDemoRp, idp: LiveIdp) -> None:
    driver.get(rp.url + "/sign")
    form = pages.wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "form[action='/sign']")),
                      "the RP's signature form")
    pages.leaving_page(driver, form.find_element(By.TAG_NAME, "button").click, "the IdP")
    pages.wait_for_path(driver, idp.url + "/login")


def log_in(driver: WebDriver, idp: LiveIdp, document: str) -> None:
    pages.fill_and_submit(driver, pages.show_permanent_clave(driver), document=document, password=PASSWORD)
    pages.enter_sms_code(driver, idp)
    pages.wait(driver, lambda d: "/signature/" in d.current_url, "the review page")


def review_shows_the_document(driver: WebDriver, rp: LiveDemoRp) -> str:
    """The review page says who asks and what; the SHA-256 the citizen reads there."""
    body = driver.find_element(By.TAG_NAME, "body").text
    assert rp.name in body and "solicitud-de-ejemplo.pdf" in body
    return driver.find_element(By.CSS_SELECTOR, "code.digest").text


def back_at_the_rp_with_a_valid_signature(driver: WebDriver, rp: LiveDemoRp, document: str) -> None:
    """pyHanko, at the RP, found the PDF intact, validly signed by the citizen's certificate,
    issued by the CA the RP fetched from /firma/ca.crt."""
    pages.wait_for_path(driver, rp.url + "/signed")
    verdict = driver.find_element(By.ID, "signature-verdict").text
    assert verdict == "The document is signed, and the signature is valid."
    facts = driver.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert f"IDCES-{document}" in facts, facts


def test_rp_login_review_sms_code_and_back_at_the_rp_with_a_valid_signed_pdf(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, PASSWORD)
    ask_for_a_signature_at_the_rp(chrome, demo_rp, live_idp)
    log_in(chrome, live_idp, document)
    review_shows_the_document(chrome, demo_rp)

    sign = chrome.find_element(By.XPATH, "//form[contains(@action, '/sign') and not(input[@name='method'])]")
    pages.fill_and_submit(chrome, sign)
    pages.enter_sms_code(chrome, live_idp)

    back_at_the_rp_with_a_valid_signature(chrome, demo_rp, document)


def test_the_same_authorised_in_the_clave_app_naming_the_document_and_its_digest(
        chrome: WebDriver, live_idp: LiveIdp, demo_rp: LiveDemoRp, tmp_path: Path) -> None:
    document, phone = enrolled_citizen(live_idp, tmp_path, PASSWORD)
    ask_for_a_signature_at_the_rp(chrome, demo_rp, live_idp)
    log_in(chrome, live_idp, document)
    digest = review_shows_the_document(chrome, demo_rp)

    pages.fill_and_submit(chrome, chrome.find_element(
        By.XPATH, "//form[input[@name='method' and @value='app']]"))
    code = pages.wait(chrome, ec.visibility_of_element_located((By.CSS_SELECTOR, ".verification-code")),
                      "the code to type in the app").text
    shown = mobile(phone, "pending", "--json")
    [request] = json.loads(shown.stdout)
    assert request["kind"] == "signature" and request["requester"] == demo_rp.name
    assert request["document"] == {"name": "solicitud-de-ejemplo.pdf", "sha256": digest}
    approved = mobile(phone, "approve", request["id"], stdin=code + "\n")
    assert approved.stdout.strip().endswith("approved"), approved.stderr

    back_at_the_rp_with_a_valid_signature(chrome, demo_rp, document)  # reached without a click
