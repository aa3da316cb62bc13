"""What a citizen does in the browser, in small steps the e2e tests read like a script.

Fields are found by their documented, stable names (``document``, ``password``, ``otp``, …),
never by position or label text; every step waits explicitly for the page it leads to, so
the tests neither sleep nor race the browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from idp.sms import latest_code
from tests.support.live import LiveDemoRp, LiveIdp
from tests.support.pki import escaped

# Generous for a loaded CI machine; a healthy run waits a fraction of a second per step.
TIMEOUT_SECONDS = 15
# How often a wait asks the browser again. Selenium's default, half a second, was paid at
# almost every step: a page is rarely gone at the first look just after a click.
POLL_SECONDS = 0.05
T = TypeVar("T")


def wait(driver: WebDriver, condition: Callable[[WebDriver], T], what: str,
         ignored: tuple[type[Exception], ...] = ()) -> T:
    """Wait for ``condition``; on timeout fail with where the browser is and what it shows,
    which is what an e2e failure needs to be read by."""
    try:
        return WebDriverWait(driver, TIMEOUT_SECONDS, poll_frequency=POLL_SECONDS,
                             ignored_exceptions=ignored).until(condition)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text[:1500]
        raise AssertionError(f"waited for {what}; the browser is at {driver.current_url}:\n{body}") from None


def form_with(driver: WebDriver, field: str) -> WebElement:
    """The visible form holding the field named ``field`` (the login page has a hidden
    ``document`` field in its other tab; only what the citizen sees is filled)."""
    element = wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, f"form [name='{field}']")),
                   f"a visible field named {field!r}")
    return element.find_element(By.XPATH, "./ancestor::form")


def fill_and_submit(driver: WebDriver, form: WebElement, button: str | None = None,
                    **fields: str) -> None:
    """Type ``fields`` into ``form`` as a citizen would, press its submit button (or the
    one with ``value=button``) and wait until the browser has left the page."""
    for name, value in fields.items():
        element = form.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)
    selector = f"button[type='submit'][value='{button}']" if button else "button[type='submit']"
    leaving_page(driver, lambda: form.find_element(By.CSS_SELECTOR, selector).click(),
                 "the next page after submitting the form")


def leaving_page(driver: WebDriver, action: Callable[[], object], what: str) -> None:
    """Do ``action`` (a click, a key press) and wait until the next page has loaded."""
    page = driver.find_element(By.TAG_NAME, "html")
    action()
    # While the old document is torn down chromedriver may answer with an inspector error
    # instead of "stale element": that too means "not yet", so ask again.
    wait(driver, ec.staleness_of(page), what, ignored=(WebDriverException,))
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete",
         f"{what} to finish loading", ignored=(WebDriverException,))


def wait_for_path(driver: WebDriver, url: str) -> None:
    """Wait until the browser shows ``url`` (query string ignored)."""
    wait(driver, lambda d: d.current_url.split("?")[0].split("#")[0] == url, f"the page {url}")


def enter_sms_code(driver: WebDriver, idp: LiveIdp) -> None:
    """The SMS-code page of any flow: type the newest code the IdP sent."""
    form = form_with(driver, "otp")
    code = latest_code(idp.sms_file)
    assert code, "the IdP sent no SMS"
    fill_and_submit(driver, form, otp=code)


def activate(driver: WebDriver, idp: LiveIdp, *, document: str, email: str,
             activation_code: str, password: str) -> None:
    """/activate: document, e-mail and activation code → SMS code → new password twice."""
    driver.get(idp.url + "/activate")
    fill_and_submit(driver, form_with(driver, "activation_code"), document=document, email=email,
                    activation_code=activation_code)
    enter_sms_code(driver, idp)
    fill_and_submit(driver, form_with(driver, "new_password"), new_password=password,
                    new_password_confirm=password)


def start_login_at_rp(driver: WebDriver, rp: LiveDemoRp, idp: LiveIdp) -> None:
    """Press the RP's "Log in with Cl@ve" and wait for the IdP's login page."""
    driver.get(rp.url + "/")
    button = wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, "button.button-clave")),
                  "the RP's login button")
    button.click()
    wait_for_path(driver, idp.url + "/login")


def show_permanent_clave(driver: WebDriver) -> WebElement:
    """Choose the Permanent Cl@ve tab (Cl@ve mobile's QR is shown first) and return its form."""
    tab = wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-tab='permanent']")),
               "the Permanent Cl@ve tab")
    tab.click()
    return form_with(driver, "password")


def log_in_at_rp(driver: WebDriver, rp: LiveDemoRp, idp: LiveIdp, *, document: str,
                 password: str) -> None:
    """A whole first login: RP → DNI/NIE + password → SMS code → allow → back at the RP."""
    start_login_at_rp(driver, rp, idp)
    fill_and_submit(driver, show_permanent_clave(driver), document=document, password=password)
    enter_sms_code(driver, idp)
    allow_release(driver)
    wait_for_path(driver, rp.url + "/")


def allow_release(driver: WebDriver) -> None:
    form = wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "form.decision")),
                "the consent page")
    fill_and_submit(driver, form, button="allow")


def claims_in(driver: WebDriver, heading: str) -> dict[str, str]:
    """The claim names and values the RP lists under the section titled ``heading``."""
    section = driver.find_element(
        By.XPATH, f"//section[h2[starts-with(normalize-space(), '{heading}')]]")
    names = [dt.find_element(By.TAG_NAME, "code").text
             for dt in section.find_elements(By.CSS_SELECTOR, "dl.claims > dt")]
    values = [dd.text for dd in section.find_elements(By.CSS_SELECTOR, "dl.claims > dd")]
    return dict(zip(names, values, strict=True))


def follow_link(driver: WebDriver, text: str) -> None:
    """Click the link a citizen reads as ``text`` and wait for the page it leads to."""
    link = wait(driver, ec.element_to_be_clickable((By.LINK_TEXT, text)), f"the link {text!r}")
    leaving_page(driver, link.click, f"the page behind {text!r}")


def heading(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "h1").text


def error_summary(driver: WebDriver) -> str:
    return wait(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, ".error-summary")),
                "an error summary").text


def choose_new_password(driver: WebDriver, password: str, confirm: str | None = None) -> None:
    """The new-password step of any flow: the password twice."""
    fill_and_submit(driver, form_with(driver, "new_password"), new_password=password,
                    new_password_confirm=password if confirm is None else confirm)


def log_in_at_idp(driver: WebDriver, idp: LiveIdp, *, document: str, password: str) -> None:
    """Log in on the IdP's own login page (no RP): DNI/NIE + password → SMS code → the
    citizen's account page."""
    driver.get(idp.url + "/login")
    fill_and_submit(driver, show_permanent_clave(driver), document=document, password=password)
    enter_sms_code(driver, idp)
    wait_for_path(driver, idp.url + "/account")


def try_password(driver: WebDriver, idp: LiveIdp, *, document: str, password: str) -> None:
    """Type a DNI/NIE and password on the IdP's login page and submit them."""
    driver.get(idp.url + "/login")
    fill_and_submit(driver, show_permanent_clave(driver), document=document, password=password)


def present(driver: WebDriver, certificate: object | None) -> None:
    """From now on every request of ``driver`` carries ``certificate`` as the TLS terminator
    passes it (``X-SSL-Client-Cert``), or none with ``None``."""
    headers = {} if certificate is None else {"X-SSL-Client-Cert": escaped(certificate)}
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
