"""A citizen's password in a real browser: change it, block it and set a new one with the
activation code, renew it when it is two years old (SPEC §3.4, §3.5, §4).

Every flow starts from the link a citizen follows on the login page; SMS codes are read
from the live IdP's file SMS backend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e import pages
from tests.factories import DEFAULT_PASSWORD, new_dni
from tests.support.live import LiveIdp, activate, active_citizen, register_citizen

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-browser_password")]

NEW_PASSWORD = "Otra-Clave-2026"
LOGIN_FAILED = "The DNI/NIE or the password is not correct."


def test_citizen_changes_password_from_the_login_page_and_only_the_new_one_works(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)

    chrome.get(live_idp.url + "/login")
    pages.follow_link(chrome, "Change your password")
    assert pages.heading(chrome) == "Change your Permanent Cl@ve password"
    pages.fill_and_submit(chrome, pages.form_with(chrome, "password"), document=document,
                          password=DEFAULT_PASSWORD)
    pages.enter_sms_code(chrome, live_idp)

    pages.choose_new_password(chrome, "corta")  # fails several rules: all are listed
    summary = pages.error_summary(chrome)
    assert "Use at least 8 characters." in summary
    assert "Include an upper-case letter (or use 16 characters or more)." in summary
    assert "Include a digit (or use 16 characters or more)." in summary
    pages.choose_new_password(chrome, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert "The two passwords do not match." in pages.error_summary(chrome)
    pages.choose_new_password(chrome, NEW_PASSWORD)
    assert "Your password has been changed." in chrome.find_element(By.TAG_NAME, "main").text

    pages.try_password(chrome, live_idp, document=document, password=DEFAULT_PASSWORD)
    assert LOGIN_FAILED in pages.error_summary(chrome)
    pages.log_in_at_idp(chrome, live_idp, document=document, password=NEW_PASSWORD)


def test_password_change_refuses_a_wrong_current_password_without_sending_an_sms(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    sent_before = live_idp.sms_file.read_text().count("\n")

    chrome.get(live_idp.url + "/password/change")
    pages.fill_and_submit(chrome, pages.form_with(chrome, "password"), document=document,
                          password="Not-The-Password-1")

    assert LOGIN_FAILED in pages.error_summary(chrome)
    assert live_idp.sms_file.read_text().count("\n") == sent_before


def test_five_wrong_passwords_block_it_and_the_activation_code_sets_a_new_one(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    document = new_dni()
    code = register_citizen(live_idp, document, DEFAULT_PASSWORD)
    activate(live_idp, document, code, DEFAULT_PASSWORD)

    for _ in range(5):
        pages.try_password(chrome, live_idp, document=document, password="Not-The-Password-1")
        assert LOGIN_FAILED in pages.error_summary(chrome)
    # Blocked: even the right password gets the same answer as a wrong one (nothing tells a
    # stranger whether the document is registered, or which password was right); the field's
    # hint says what five failures mean and the link says what to do.
    pages.try_password(chrome, live_idp, document=document, password=DEFAULT_PASSWORD)
    assert LOGIN_FAILED in pages.error_summary(chrome)
    assert "After 5 failed attempts the password is blocked" in chrome.find_element(
        By.ID, "password-hint").text

    pages.follow_link(chrome, "Forgot your password, or is it blocked?")
    assert pages.heading(chrome) == "Set a new password with your activation code"
    pages.fill_and_submit(chrome, pages.form_with(chrome, "activation_code"), document=document,
                          activation_code=code)
    pages.enter_sms_code(chrome, live_idp)
    pages.choose_new_password(chrome, NEW_PASSWORD)
    assert "your password is unblocked" in chrome.find_element(By.TAG_NAME, "main").text

    pages.log_in_at_idp(chrome, live_idp, document=document, password=NEW_PASSWORD)


def test_reset_with_a_wrong_activation_code_says_nothing_about_the_document(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    registered = new_dni()
    active_citizen(live_idp, registered, DEFAULT_PASSWORD)
    answers = []
    for document in (registered, new_dni()):
        chrome.get(live_idp.url + "/password/forgot")
        pages.fill_and_submit(chrome, pages.form_with(chrome, "activation_code"),
                              document=document, activation_code="ACDE-FGHJ-KLMN-PQRT")
        answers.append(pages.error_summary(chrome))
    assert answers[0] == answers[1]


def test_a_two_year_old_password_must_be_renewed_at_login_with_a_different_one(
        chrome: WebDriver, live_idp: LiveIdp) -> None:
    document = new_dni()
    active_citizen(live_idp, document, DEFAULT_PASSWORD)
    _age_password(live_idp, document, days=731)

    pages.try_password(chrome, live_idp, document=document, password=DEFAULT_PASSWORD)
    pages.enter_sms_code(chrome, live_idp)  # before anything else, whatever level is asked
    pages.wait_for_path(chrome, live_idp.url + "/login/expired")
    assert pages.heading(chrome) == "Your password has expired"
    pages.choose_new_password(chrome, DEFAULT_PASSWORD)
    assert "The new password must be different from the previous one." in pages.error_summary(chrome)
    pages.choose_new_password(chrome, NEW_PASSWORD)
    pages.wait_for_path(chrome, live_idp.url + "/account")  # the login goes on where it was

    pages.try_password(chrome, live_idp, document=document, password=DEFAULT_PASSWORD)
    assert LOGIN_FAILED in pages.error_summary(chrome)


def _age_password(idp: LiveIdp, document: str, *, days: int) -> None:
    """Make the citizen's password ``days`` old, in the live server's own database."""
    expires_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days - 730)
    changed = idp.execute("UPDATE citizens SET password_expires_at = :at WHERE document = :d",
                          at=expires_at, d=document)
    assert changed == 1
