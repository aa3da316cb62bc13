"""An authorization request that needs a login is answered by the login page itself, not by
a redirect to it: one request fewer for every login, and a reload asks only for what a link
to the RP asks."""

from __future__ import annotations

import re

from idp.extensions import db
from idp.oidc.models import AuthorizationRequest
from tests.factories import make_citizen, make_client
from tests.mobile.support import loaded
from tests.oidc.test_code_flow import redeem
from tests.support.browser import (
    AuthorizationAttempt,
    asks_to_log_in,
    code_from,
    consent,
    log_in,
    page_address,
)

SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"


def pending_id(page) -> str:  # type: ignore[no-untyped-def]
    return re.search(r'name="ir" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_an_authorization_request_that_needs_a_login_is_answered_by_the_login_page_itself(
        app, browser, sms_file):
    person, rp = make_citizen(), make_client(default_acr=SUBSTANTIAL)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)

    page = attempt.start(browser)

    assert page.status_code == 200 and "Location" not in page.headers
    assert asks_to_log_in(page) and "Agencia de Pruebas" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    answered = consent(browser, log_in(browser, page, person.document, person.password, sms_file))
    assert redeem(browser, rp, attempt, code_from(answered)).status_code == 200


def test_the_login_page_an_authorization_request_shows_gives_its_own_address_to_reloads_and_languages(
        app, browser):
    rp = make_client()
    page = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
    own = f"/login?ir={pending_id(page)}"

    assert page_address(page) == own  # the language form returns there
    assert f'<link rel="canonical" href="{own}">' in page.get_data(as_text=True)  # login.js shows it
    again = browser.get(own)
    assert again.status_code == 200 and pending_id(again) == pending_id(page)


def test_an_authorization_request_asked_again_gets_a_login_of_its_own_and_the_first_still_works(
        app, browser, sms_file):
    person, rp = make_citizen(), make_client()
    first_attempt, second_attempt = (AuthorizationAttempt(rp.client_id, rp.redirect_uri) for _ in range(2))
    first, second = first_attempt.start(browser), second_attempt.start(browser)  # a reload

    assert pending_id(first) != pending_id(second)
    assert db.session.scalar(db.select(db.func.count()).select_from(AuthorizationRequest)) == 2
    answered = consent(browser, log_in(browser, first, person.document, person.password, sms_file))
    assert redeem(browser, rp, first_attempt, code_from(answered)).status_code == 200


def test_an_authorization_request_sent_as_a_form_is_answered_by_the_login_page_with_a_new_qr_code(
        app, browser):
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)

    page = browser.post("/authorize", data=attempt.params())

    assert page.status_code == 200 and asks_to_log_in(page)
    loaded(browser, page)  # its QR image is drawn: the challenge it drafted is stored


def test_a_step_up_is_still_reached_by_a_redirect_to_its_page(app, browser, sms_file):
    person = make_citizen()
    low, high = make_client(), make_client(default_acr=SUBSTANTIAL)
    low_attempt = AuthorizationAttempt(low.client_id, low.redirect_uri)
    consent(browser, log_in(browser, low_attempt.start(browser), person.document, person.password))

    step_up = AuthorizationAttempt(high.client_id, high.redirect_uri).start(browser)

    assert step_up.status_code == 302 and step_up.headers["Location"].startswith("/login?ir=")
    assert "/login/step-up" in browser.get(step_up.headers["Location"]).get_data(as_text=True)
