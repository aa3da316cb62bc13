"""Online registration and activation-code regeneration with a digital certificate, in a
real browser (SPEC §3.1b, §3.6).

In production the TLS terminator (nginx, README "Deploying") asks the browser for its
client certificate and passes the verified PEM to the IdP in ``X-SSL-Client-Cert``; the IdP
believes that header only from the proxy addresses in ``IDP_TRUSTED_PROXIES`` and checks
the certificate again against ``IDP_TRUSTED_CA_FILE``. Here Chromium talks to the IdP
directly from 127.0.0.1 (configured as the proxy) and adds the header itself through the
DevTools protocol, exactly as nginx would send it; CA and certificates are made in the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e import pages
from tests.factories import DEFAULT_PASSWORD, new_dni
from tests.support.live import LiveIdp, register_citizen, start_idp
from tests.support.pki import Authority, make_authority

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_certificate")]

EMAIL = "maria@example.org"


@pytest.fixture(scope="module")
def authority() -> Authority:
    return make_authority()


@pytest.fixture(scope="module")
def certificate_idp(authority: Authority,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveIdp]:
    """An IdP that trusts ``authority`` and the certificate header from 127.0.0.1."""
    base = tmp_path_factory.mktemp("e2e-certificate-idp")
    ca_file = base / "trusted-cas.pem"
    ca_file.write_bytes(authority.pem())
    server = start_idp(base, IDP_TRUSTED_CA_FILE=str(ca_file), IDP_TRUSTED_PROXIES="127.0.0.1")
    yield server
    server.stop()


def shown_activation_code(driver: WebDriver) -> str:
    return driver.find_element(By.CSS_SELECTOR, ".receipt .activation-code").text.replace(" ", "")


def test_citizen_registers_with_a_certificate_then_activates_with_the_code_on_the_receipt(
        chrome: WebDriver, certificate_idp: LiveIdp, authority: Authority) -> None:
    document = new_dni()
    pages.present(chrome, authority.issue(serial_number=f"IDCES-{document}", given_name="MARÍA",
                                    surname="GARCÍA LÓPEZ"))

    chrome.get(certificate_idp.url + "/login")
    pages.follow_link(chrome, "Register with your digital certificate")
    holder = chrome.find_element(By.CSS_SELECTOR, "dl.data-list").text
    assert document in holder and "MARÍA" in holder and "GARCÍA" in holder
    pages.fill_and_submit(chrome, pages.form_with(chrome, "email"), email="maria@example",
                          phone="+34600222333", contrast_data="01012031")
    assert "Enter a valid e-mail address." in pages.error_summary(chrome)
    pages.fill_and_submit(chrome, pages.form_with(chrome, "email"), email=EMAIL,
                          phone="+34600222333", contrast_data="01012031")

    assert pages.heading(chrome) == "You are registered in Cl@ve"
    receipt = chrome.find_element(By.CSS_SELECTOR, ".receipt").text
    assert document in receipt and EMAIL in receipt
    code = shown_activation_code(chrome)
    assert len(code.replace("-", "")) == 16
    assert chrome.find_element(By.CSS_SELECTOR, "[data-print]").is_displayed()  # receipt.js

    pages.activate(chrome, certificate_idp, document=document, email=EMAIL, activation_code=code,
                   password=DEFAULT_PASSWORD)
    assert pages.heading(chrome) == "Your Permanent Cl@ve is active"

    chrome.get(certificate_idp.url + "/register/certificate")  # the same certificate again
    assert "You are already registered in Cl@ve with this DNI/NIE" in chrome.find_element(
        By.TAG_NAME, "main").text
    assert not chrome.find_elements(By.NAME, "email")


def test_citizen_gets_a_new_activation_code_with_a_certificate_and_the_old_one_stops(
        chrome: WebDriver, certificate_idp: LiveIdp, authority: Authority) -> None:
    document = new_dni()
    old_code = register_citizen(certificate_idp, document, DEFAULT_PASSWORD, email=EMAIL)
    pages.present(chrome, authority.issue(serial_number=f"IDCES-{document}"))

    chrome.get(certificate_idp.url + "/login")
    pages.follow_link(chrome, "Get a new activation code")
    assert pages.heading(chrome) == "Get a new activation code with your digital certificate"
    pages.fill_and_submit(chrome, chrome.find_element(By.CSS_SELECTOR, "main form"))
    assert "The previous code no longer works." in chrome.find_element(By.TAG_NAME, "main").text
    new_code = shown_activation_code(chrome)
    assert new_code != old_code

    chrome.get(certificate_idp.url + "/activate")
    pages.fill_and_submit(chrome, pages.form_with(chrome, "activation_code"), document=document,
                          email=EMAIL, activation_code=old_code)
    assert "The details do not match our records." in pages.error_summary(chrome)
    pages.activate(chrome, certificate_idp, document=document, email=EMAIL,
                   activation_code=new_code, password=DEFAULT_PASSWORD)
    assert pages.heading(chrome) == "Your Permanent Cl@ve is active"


@pytest.mark.parametrize(("problem", "explained"), [
    ("untrusted", "was not issued by a recognised certification authority"),
    ("expired", "This certificate has expired."),
])
def test_a_certificate_the_idp_cannot_trust_registers_nothing_and_says_why(
        chrome: WebDriver, certificate_idp: LiveIdp, authority: Authority, problem: str,
        explained: str) -> None:
    serial_number = f"IDCES-{new_dni()}"
    if problem == "untrusted":
        certificate = make_authority("AC Desconocida").issue(serial_number=serial_number)
    else:
        now = datetime.now(UTC)
        certificate = authority.issue(serial_number=serial_number,
                                      not_before=now - timedelta(days=400),
                                      not_after=now - timedelta(days=1))
    pages.present(chrome, certificate)

    chrome.get(certificate_idp.url + "/register/certificate")

    assert explained in pages.error_summary(chrome)
    assert not chrome.find_elements(By.NAME, "email")
    assert "How to use your certificate" in chrome.find_element(By.TAG_NAME, "main").text
