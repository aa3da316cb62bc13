"""A walk through every page the IdP shows, in one language, as a citizen reaches each one.

Each stop leaves the browser on one page (or one state of a page: an error, a tab) and has
a stable name. The accessibility test runs axe-core at every stop in every language;
``make screenshots`` photographs every stop. ``TEMPLATES_SHOWN`` says which template each
stop renders, so that a test can fail when a new template is not on the tour.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from demo_rp.signing import sample_pdf
from tests.e2e import pages
from tests.factories import DEFAULT_PASSWORD, new_dni
from tests.support.live import LiveDemoRp, LiveIdp, active_citizen, register_citizen
from tests.support.pki import Authority

LANGUAGE_COOKIE = "idp_lang"
LANGUAGES = ("es", "ca", "gl", "eu", "ca_ES_VALENCIA", "en")


@dataclass
class Stops:
    """What the tour needs: the IdP (trusting ``authority`` for certificates from
    127.0.0.1, sending SMS codes without waiting), an RP that asks for the substantial
    level and one that asks for the low one."""

    idp: LiveIdp
    rp: LiveDemoRp
    low_rp: LiveDemoRp
    authority: Authority


Stop = tuple[str, str]  # (stop name, template shown)


def walk(driver: WebDriver, stops: Stops, language: str) -> Iterator[Stop]:
    """Bring ``driver`` to each page in turn, in ``language``; yield after each arrival."""
    idp = stops.idp
    use_language(driver, idp, language)

    driver.get(idp.url + "/")
    yield "home", "home.html"
    driver.get(idp.url + "/this-page-does-not-exist")
    yield "not-found", "error.html"
    driver.get(idp.url + "/login/otp")
    yield "step-expired", "error.html"
    driver.get(idp.url + "/authorize?client_id=unknown&response_type=code&scope=openid")
    yield "oidc-error", "oidc/error.html"
    driver.get(idp.url + "/logout?id_token_hint=not-a-token")
    yield "logout-refused", "oidc/logout_error.html"

    document = new_dni()
    active_citizen(idp, document, DEFAULT_PASSWORD)
    pages.start_login_at_rp(driver, stops.rp, idp)
    yield "login-mobile", "login/password.html"
    form = pages.show_permanent_clave(driver)
    yield "login-permanent", "login/password.html"
    pages.fill_and_submit(driver, form, document=document, password="Not-The-Password-1")
    yield "login-refused", "login/password.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "password"), document=document,
                          password=DEFAULT_PASSWORD)
    yield "login-sms-code", "otp_step.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "otp"), otp="000000")
    yield "login-sms-code-refused", "otp_step.html"
    pages.enter_sms_code(driver, idp)
    yield "consent", "consent/show.html"
    pages.allow_release(driver)
    pages.wait_for_path(driver, stops.rp.url + "/")

    driver.get(idp.url + "/account")
    yield "account", "account/show.html"
    # The tour's browser has no authenticator (and WebAuthn refuses 127.0.0.1): the passkey
    # the account page lists is written into the database, as the ceremony would have.
    idp.execute("INSERT INTO passkeys (citizen_id, credential_id, user_handle, public_key, sign_count, "
                "backup_eligible, backed_up, name, created_at, last_used_at) SELECT id, :credential, "
                "'tour', :key, 3, :no, :no, 'Portátil', :now, :now FROM citizens WHERE document = :document",
                credential=f"tour-{document}", key=b"\x00", no=False, document=document,
                now=datetime.now(UTC).replace(tzinfo=None))
    driver.get(idp.url + "/account?passkey=added")
    yield "account-passkeys", "account/show.html"
    yield from signing(driver, stops, document)
    driver.get(idp.url + "/logout")
    yield "logout-confirm", "oidc/logout_confirm.html"
    pages.fill_and_submit(driver, driver.find_element(By.CSS_SELECTOR, "main form"))
    yield "logged-out", "oidc/logged_out.html"

    driver.get(stops.low_rp.url + "/login?acr=low")  # a password is enough for this one
    pages.fill_and_submit(driver, pages.show_permanent_clave(driver), document=document,
                          password=DEFAULT_PASSWORD)
    pages.allow_release(driver)
    pages.wait_for_path(driver, stops.low_rp.url + "/")
    pages.start_login_at_rp(driver, stops.rp, idp)  # asks for more than the session has
    yield "step-up", "login/step_up.html"
    use_language(driver, idp, language)  # a browser without a session again

    pages.start_login_at_rp(driver, stops.rp, idp)
    driver.find_element(By.CSS_SELECTOR, "[data-tab='passkey']").click()
    yield "login-passkey", "login/password.html"
    # What a refused passkey leads to (an answer no authenticator would give).
    pages.leaving_page(driver, lambda: driver.execute_script(
        "const form = document.querySelector('[data-passkey-login]');"
        "form.elements.credential.value = '{}'; form.submit();"), "the refused passkey")
    yield "login-passkey-refused", "login/password.html"

    pages.start_login_at_rp(driver, stops.rp, idp)
    driver.find_element(By.CSS_SELECTOR, "details.no-qr summary").click()
    yield "login-no-qr", "login/password.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "contrast_data"), document="1234",
                          contrast_data="")
    yield "mobile-push-refused", "mobile/push_form.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "contrast_data"), document=document,
                          contrast_data="01012031")
    yield "mobile-push-waiting", "mobile/waiting.html"
    driver.get(idp.url + "/login")
    pages.fill_and_submit(driver, driver.find_element(By.CSS_SELECTOR, ".qr-challenge form"))
    yield "mobile-qr-not-yet", "mobile/waiting.html"
    # What a wrong code typed in the app leads to (the tour has no phone: the database says it).
    challenge = driver.find_element(By.CSS_SELECTOR, "[data-challenge]").get_attribute("data-challenge")
    idp.execute("UPDATE mobile_challenges SET status = 'denied' WHERE id = :id", id=challenge)
    pages.error_summary(driver)  # the page saw the decision and went on by itself
    yield "mobile-denied", "mobile/waiting.html"

    newcomer = new_dni()
    code = register_citizen(idp, newcomer, DEFAULT_PASSWORD)
    driver.get(idp.url + "/activate")
    yield "activation", "activation/start.html"
    form = pages.form_with(driver, "activation_code")
    pages.fill_and_submit(driver, form, document="12345678A", email="x", activation_code="")
    yield "activation-refused", "activation/start.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "activation_code"), document=newcomer,
                          email="lucia@example.org", activation_code=code)
    yield "activation-sms-code", "otp_step.html"
    pages.enter_sms_code(driver, idp)
    yield "activation-password", "new_password_step.html"
    pages.choose_new_password(driver, "corta", confirm="otra")
    yield "activation-password-refused", "new_password_step.html"
    pages.choose_new_password(driver, DEFAULT_PASSWORD)
    yield "activation-done", "activation/done.html"

    driver.get(idp.url + "/password/change")
    yield "password-change", "password_change/start.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "password"), document=newcomer,
                          password=DEFAULT_PASSWORD)
    pages.enter_sms_code(driver, idp)
    pages.choose_new_password(driver, "Otra-Clave-2031")
    yield "password-changed", "password_change/done.html"
    driver.get(idp.url + "/password/forgot")
    yield "password-forgot", "password_reset/start.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "activation_code"), document=newcomer,
                          activation_code=code)
    pages.enter_sms_code(driver, idp)
    pages.choose_new_password(driver, "Nueva-Clave-2032")
    yield "password-reset-done", "password_reset/done.html"

    driver.get(idp.url + "/unsubscribe")
    yield "unsubscribe", "unsubscribe/start.html"
    pages.fill_and_submit(driver, pages.form_with(driver, "password"), document=newcomer,
                          password="Nueva-Clave-2032")
    pages.enter_sms_code(driver, idp)
    yield "unsubscribe-confirm", "unsubscribe/confirm.html"
    pages.fill_and_submit(driver, driver.find_element(By.CSS_SELECTOR, ".decision form"))
    yield "unsubscribed", "unsubscribe/done.html"

    driver.get(idp.url + "/register/certificate")
    yield "registration-no-certificate", "registration/certificate.html"
    driver.get(idp.url + "/activation-code/regenerate")
    yield "regeneration-no-certificate", "activation_code/regenerate.html"
    holder = new_dni()
    with presenting(driver, stops.authority.issue(serial_number=f"IDCES-{holder}")):
        driver.get(idp.url + "/register/certificate")
        yield "registration", "registration/certificate.html"
        pages.fill_and_submit(driver, pages.form_with(driver, "email"), email="maria@example.org",
                              phone="+34600222333", contrast_data="01012031")
        yield "registration-receipt", "registration/done.html"
        driver.get(idp.url + "/activation-code/regenerate")
        yield "regeneration", "activation_code/regenerate.html"
        pages.fill_and_submit(driver, driver.find_element(By.CSS_SELECTOR, "main form"))
        yield "regeneration-receipt", "activation_code/done.html"


def signing(driver: WebDriver, stops: Stops, document: str) -> Iterator[Stop]:
    """Cl@ve Firma's pages, for a citizen logged in at the substantial level: a signature the
    demo RP asks for (by SMS code, and in the app: the tour's phone is a row in the database,
    as its passkey), and a PDF of their own."""
    idp = stops.idp
    ask_for_a_signature(driver, stops)
    yield "signature-review", "signature/review.html"
    pages.fill_and_submit(driver, driver.find_element(
        By.XPATH, "//form[contains(@action, '/sign') and not(input[@name='method'])]"))
    yield "signature-sms-code", "signature/otp.html"
    pages.enter_sms_code(driver, idp)
    pages.wait_for_path(driver, stops.rp.url + "/signed")
    idp.execute("INSERT INTO devices (id, citizen_id, name, public_jwk, enrolled_at) SELECT :id, id, "
                "'Teléfono', :jwk, :now FROM citizens WHERE document = :document", id=f"tour-{document}",
                jwk='{"kty": "EC"}', now=datetime.now(UTC).replace(tzinfo=None), document=document)
    ask_for_a_signature(driver, stops)
    pages.fill_and_submit(driver, driver.find_element(By.XPATH, "//form[input[@name='method']]"))
    yield "signature-app", "signature/app.html"
    driver.get(idp.url + "/signature/own")
    yield "signature-own", "signature/own.html"
    with tempfile.TemporaryDirectory() as folder:
        for name, content in (("nota.txt", b"not a PDF"), ("propio.pdf", sample_pdf())):
            (Path(folder) / name).write_bytes(content)
            driver.find_element(By.ID, "file").send_keys(str(Path(folder) / name))
            pages.leaving_page(driver, driver.find_element(By.CSS_SELECTOR, "main form button").click,
                               "the answer to the upload")
            if name == "nota.txt":
                yield "signature-own-refused", "signature/own.html"
    pages.fill_and_submit(driver, driver.find_element(
        By.XPATH, "//form[contains(@action, '/sign') and not(input[@name='method'])]"))
    pages.enter_sms_code(driver, idp)
    yield "signature-own-done", "signature/own_done.html"


def ask_for_a_signature(driver: WebDriver, stops: Stops) -> None:
    """The demo RP's "Sign a document with Cl@ve", up to Cl@ve's review page."""
    driver.get(stops.rp.url + "/sign")
    pages.fill_and_submit(driver, driver.find_element(By.CSS_SELECTOR, "main form"))
    pages.wait(driver, lambda d: "/signature/" in d.current_url, "the review page")


def use_language(driver: WebDriver, idp: LiveIdp, language: str) -> None:
    """Choose the language as the switcher does: its cookie on the IdP's site."""
    driver.get(idp.url + "/healthz")
    driver.delete_all_cookies()
    driver.add_cookie({"name": LANGUAGE_COOKIE, "value": language, "path": "/"})


class presenting:  # noqa: N801 - used as a statement: "with presenting(driver, certificate)"
    """While inside, every request carries the certificate as the TLS terminator passes it."""

    def __init__(self, driver: WebDriver, certificate: object) -> None:
        self.driver, self.certificate = driver, certificate

    def __enter__(self) -> None:
        pages.present(self.driver, self.certificate)

    def __exit__(self, *exc: object) -> None:
        pages.present(self.driver, None)


# Templates no stop shows, and why.
NOT_ON_THE_TOUR: dict[str, str] = {
    "oidc/form_post.html": "submits itself at once (response_mode=form_post); checked in "
                           "tests/oidc for its markup",
    "mobile/app_link.html": "opened on the phone by the app link, not in the browser",
}

Visit = Callable[[WebDriver, Stops, str], Iterator[Stop]]
