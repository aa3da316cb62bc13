"""Permanent Cl@ve login through the real forms."""

from __future__ import annotations

from idp.assurance import ACR_SUBSTANTIAL
from idp.audit import EventTag
from idp.extensions import db
from idp.models import AuditEvent, FlowState, LoginSession
from idp.sms import latest_code
from tests.factories import make_citizen, make_client, new_dni
from tests.support.browser import AuthorizationAttempt, code_from, consent, log_in, log_in_to_account, submit


def post_login(browser, document: str, password: str):  # type: ignore[no-untyped-def]
    page = browser.get("/login")
    return submit(browser, page, "/login", document=document, password=password)


def tags() -> list[str]:
    return [event.tag for event in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]


def test_password_and_sms_code_without_rp_start_a_session_and_go_to_the_account(
        app, browser, sms_file):
    person = make_citizen()
    response = log_in_to_account(browser, person.document, person.password, sms_file)
    assert response.headers["Location"] == "/account"
    assert db.session.scalar(db.select(LoginSession).filter_by(citizen_id=person.citizen.id))
    assert EventTag.LOGIN_SUCCEEDED in tags()


def test_wrong_control_letter_is_a_form_error_not_a_lookup(app, browser):
    response = post_login(browser, "12345678A", "whatever")
    assert response.status_code == 400
    assert "no corresponde a su número" in response.get_data(as_text=True)
    assert EventTag.LOGIN_FAILED not in tags()


def test_malformed_document_is_refused_with_a_clear_message(app, browser):
    response = post_login(browser, "not-a-dni", "whatever")
    assert response.status_code == 400
    assert "8 números y una letra" in response.get_data(as_text=True)


def test_unknown_document_and_wrong_password_get_the_same_answer(app, browser):
    person = make_citizen()
    unknown = post_login(browser, new_dni(), "Buen-Dia-2026!")
    wrong = post_login(browser, person.document, "Otra-Clave-2026!")
    assert unknown.status_code == wrong.status_code == 401
    assert _refusal(unknown) == _refusal(wrong)


def _refusal(response) -> str:  # type: ignore[no-untyped-def]
    """The Permanent Cl@ve part of the page, without the values typed or the CSRF token."""
    import re

    html = response.get_data(as_text=True)
    section = re.search(r'<section id="permanent".*?</section>', html, re.S).group(0)
    return re.sub(r'value="[^"]*"', 'value=""', section)


def test_fifth_wrong_password_blocks_it_and_then_even_the_right_one_is_refused(app, browser):
    person = make_citizen()
    for _ in range(4):
        post_login(browser, person.document, "Mala-Clave-99")
    db.session.refresh(person.citizen)
    assert not person.citizen.password_blocked and person.citizen.password_failures == 4
    post_login(browser, person.document, "Mala-Clave-99")
    db.session.refresh(person.citizen)
    assert person.citizen.password_blocked
    refused = post_login(browser, person.document, person.password)
    assert refused.status_code == 401
    assert EventTag.PASSWORD_BLOCKED in tags()


def test_a_correct_password_resets_the_failure_count(app, browser):
    person = make_citizen()
    for _ in range(3):
        post_login(browser, person.document, "Mala-Clave-99")
    post_login(browser, person.document, person.password)
    db.session.refresh(person.citizen)
    assert person.citizen.password_failures == 0


def test_registered_but_not_activated_citizen_cannot_log_in_and_looks_unknown(app, browser):
    person = make_citizen(active=False)
    response = post_login(browser, person.document, "Buen-Dia-2026!")
    assert response.status_code == 401


def test_login_form_without_csrf_token_is_refused_and_counts_nothing(app, browser):
    person = make_citizen()
    response = browser.post("/login", data={"document": person.document, "password": "x"})
    assert response.status_code == 400
    db.session.refresh(person.citizen)
    assert person.citizen.password_failures == 0


def test_oversized_fields_are_refused_without_error_page_500(app, browser):
    page = browser.get("/login")
    response = submit(browser, page, "/login", document="1" * 5000, password="x" * 5000)
    assert response.status_code == 400


def test_no_secret_appears_in_audit_events(app, browser, sms_file):
    person = make_citizen()
    rp = make_client(default_acr=ACR_SUBSTANTIAL)
    log_in(browser, AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser),
           person.document, person.password, sms_file)
    post_login(browser, person.document, "Mala-Clave-99")
    rendered = " ".join(f"{e.tag} {e.detail}" for e in db.session.scalars(db.select(AuditEvent)))
    assert EventTag.OTP_VERIFIED in rendered
    for secret in (person.password, "Mala-Clave-99", latest_code(sms_file), person.activation_code):
        assert secret not in rendered


def flow_states() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(FlowState))


def test_a_login_that_goes_on_to_consent_leaves_no_sms_step_behind(app, browser, sms_file):
    person = make_citizen()
    rp = make_client(default_acr=ACR_SUBSTANTIAL)
    to_consent = log_in(browser, AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser),
                        person.document, person.password, sms_file)
    assert "/consent" in to_consent.headers["Location"]
    assert flow_states() == 0


def test_a_login_answered_with_a_code_leaves_no_sms_step_behind(app, browser, sms_file):
    person = make_citizen()
    rp = make_client(default_acr=ACR_SUBSTANTIAL)
    other = app.test_client()
    consent(other, log_in(other, AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(other),
                          person.document, person.password, sms_file))
    answered = log_in(browser, AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser),
                      person.document, person.password, sms_file)
    assert code_from(answered)
    assert flow_states() == 0
