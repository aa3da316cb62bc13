"""Forgotten or blocked password: DNI/NIE + activation code → SMS code → new password."""

from __future__ import annotations

import pytest

from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from idp.notices import password_replaced_text
from idp.sms import latest_code, read_sms_file
from tests.factories import make_citizen, make_client, new_dni
from tests.flows.support import (
    NEW_PASSWORD,
    WEAK,
    WEAK_PASSWORD_PROBLEMS,
    attempts_until_blocked,
    choose_password,
    fill,
    pass_sms,
    refresh,
    refusal,
    tokens_for,
)
from tests.support.browser import is_login_sms_page, is_sms_page, shows_message, submit

START, OTP, NEW = "/password/forgot", "/password/forgot/otp", "/password/forgot/new"
WRONG_CODE = "AAAA-AAAA-AAAA-AAAA"


@pytest.fixture
def other_browser(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def log_in_form(browser, document: str, password: str):  # type: ignore[no-untyped-def]
    return fill(browser, "/login", document=document, password=password)


def reach_new_password_step(browser, sms_file, person):  # type: ignore[no-untyped-def]
    started = fill(browser, START, document=person.document, activation_code=person.activation_code)
    assert is_sms_page(started, OTP), started.get_data(as_text=True)
    assert pass_sms(browser, OTP, sms_file).headers["Location"] == NEW


def test_a_blocked_password_is_unblocked_by_a_new_one_set_with_the_activation_code(
        app, browser, sms_file):
    person = make_citizen()
    for _ in range(5):
        log_in_form(browser, person.document, "Mala-Clave-99")
    db.session.refresh(person.citizen)
    assert person.citizen.password_blocked

    reach_new_password_step(browser, sms_file, person)
    done = choose_password(browser, NEW)

    assert done.status_code == 200 and shows_message(done, "password_reset_done")
    db.session.refresh(person.citizen)
    assert not person.citizen.password_blocked and person.citizen.password_failures == 0
    assert is_login_sms_page(log_in_form(browser, person.document, NEW_PASSWORD))
    event = db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.PASSWORD_RESET))
    assert event.detail == {"unblocked": True, "devices": 0, "passkeys": 0}


def test_a_reset_revokes_the_enrolled_apps_and_says_so_on_the_page_and_by_sms(app, browser, sms_file):
    from tests.mobile.support import API, enroll, signed_get

    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    clock.advance(seconds=31)  # the next SMS code may be sent

    reach_new_password_step(browser, sms_file, person)
    done = choose_password(browser, NEW)

    assert shows_message(done, "password_apps_revoked")
    assert signed_get(browser, device, f"{API}/pending").get_json()["error"] == "unknown_device"
    event = db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.PASSWORD_RESET))
    assert event.detail == {"unblocked": False, "devices": 1, "passkeys": 0}
    notice = read_sms_file(sms_file)[-1]
    assert notice["to"] == person.citizen.phone and notice["text"] == password_replaced_text(1)


def test_the_activation_code_is_accepted_without_dashes_and_in_lower_case(app, browser):
    person = make_citizen()
    typed = person.activation_code.replace("-", "").lower()
    started = fill(browser, START, document=person.document, activation_code=typed)
    assert is_sms_page(started, OTP)


def test_the_fifth_wrong_activation_code_is_still_counted_and_blocks_the_code(app, browser):
    person = make_citizen()
    for _ in range(4):
        refused = fill(browser, START, document=person.document, activation_code=WRONG_CODE)
        assert refused.status_code == 400 and shows_message(refused, "reset_failed")
    db.session.refresh(person.citizen)
    assert person.citizen.activation_failures == 4 and not person.citizen.activation_code_blocked

    fill(browser, START, document=person.document, activation_code=WRONG_CODE)

    db.session.refresh(person.citizen)
    assert person.citizen.activation_failures == 5 and person.citizen.activation_code_blocked


def test_the_sixth_attempt_is_refused_even_with_the_right_code(app, browser, sms_file):
    person = make_citizen()
    for _ in range(5):
        fill(browser, START, document=person.document, activation_code=WRONG_CODE)
    refused = fill(browser, START, document=person.document, activation_code=person.activation_code)
    assert refused.status_code == 400 and shows_message(refused, "activation_code_blocked")
    assert latest_code(sms_file) is None


def test_unknown_document_and_wrong_code_get_the_same_answer(app, browser):
    person = make_citizen()
    unknown = fill(browser, START, document=new_dni(), activation_code=WRONG_CODE)
    wrong = fill(browser, START, document=person.document, activation_code=WRONG_CODE)
    assert unknown.status_code == wrong.status_code == 400
    assert refusal(unknown) == refusal(wrong)


def test_a_citizen_who_never_activated_is_sent_to_activation(app, browser, sms_file):
    person = make_citizen(active=False)
    refused = fill(browser, START, document=person.document, activation_code=person.activation_code)
    assert refused.status_code == 400 and shows_message(refused, "not_yet_active")
    assert latest_code(sms_file) is None


def test_policy_failing_password_lists_every_failed_rule_and_keeps_the_old_one(
        app, browser, sms_file):
    person = make_citizen()
    reach_new_password_step(browser, sms_file, person)
    refused = fill(browser, NEW, **WEAK)
    assert refused.status_code == 400
    for key in WEAK_PASSWORD_PROBLEMS:
        assert shows_message(refused, key), key
    assert is_login_sms_page(log_in_form(browser, person.document, person.password))


def test_the_new_password_must_differ_from_the_forgotten_one(app, browser, sms_file):
    person = make_citizen()
    reach_new_password_step(browser, sms_file, person)
    same = choose_password(browser, NEW, person.password)
    assert same.status_code == 400 and shows_message(same, "password_same_as_previous")


def test_malformed_document_is_refused_before_any_lookup(app, browser):
    person = make_citizen()
    refused = fill(browser, START, document="X12", activation_code=person.activation_code)
    assert refused.status_code == 400 and shows_message(refused, "document_format")
    db.session.refresh(person.citizen)
    assert person.citizen.activation_failures == 0


def test_a_form_without_csrf_token_is_refused_and_counts_nothing(app, browser):
    person = make_citizen()
    refused = browser.post(START, data={"document": person.document, "activation_code": WRONG_CODE})
    assert refused.status_code == 400 and shows_message(refused, "csrf_failed")
    db.session.refresh(person.citizen)
    assert person.citizen.activation_failures == 0


def test_a_used_sms_code_cannot_be_used_in_a_new_attempt(app, browser, sms_file):
    person = make_citizen()
    fill(browser, START, document=person.document, activation_code=person.activation_code)
    code = latest_code(sms_file)
    submit(browser, browser.get(OTP), OTP, otp=code)
    clock.advance(seconds=31)
    fill(browser, START, document=person.document, activation_code=person.activation_code)
    replayed = submit(browser, browser.get(OTP), OTP, otp=code)
    assert replayed.status_code == 400 and shows_message(replayed, "otp_wrong")


def test_a_reset_ends_every_other_session_and_its_tokens(app, browser, other_browser, sms_file):
    person = make_citizen()
    rp = make_client()
    elsewhere = tokens_for(other_browser, sms_file, rp, person)

    reach_new_password_step(browser, sms_file, person)
    choose_password(browser, NEW)

    assert other_browser.get("/account").status_code == 302
    assert refresh(other_browser, rp, elsewhere["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_unknown_and_registered_documents_reach_blocked_the_same_way_at_forgot_password(app):
    person = make_citizen()
    registered = attempts_until_blocked(app, START, "198.51.100.1", document=person.document,
                                        activation_code=WRONG_CODE)
    unknown = attempts_until_blocked(app, START, "198.51.100.2", document=new_dni(),
                                     activation_code=WRONG_CODE)
    assert [blocked for *_, blocked, _ in registered] == [False] * 4 + [True] * 2
    assert registered == unknown
