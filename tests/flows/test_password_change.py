"""Password change: DNI/NIE + current password → SMS code → new password twice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.messages import event_label
from idp.models import AuditEvent
from idp.notices import password_replaced_text
from idp.sms import SmsDeliveryError, latest_code, read_sms_file
from tests.factories import make_citizen, make_client, new_dni
from tests.flows.support import (
    NEW_PASSWORD,
    WEAK,
    WEAK_PASSWORD_PROBLEMS,
    choose_password,
    fill,
    pass_sms,
    refresh,
    refusal,
    tokens_for,
)
from tests.mobile.support import API, enroll, signed_get
from tests.support.browser import (
    AuthorizationAttempt,
    is_login_sms_page,
    is_sms_page,
    log_in_to_account,
    query,
    shows_message,
    submit,
)

START, OTP, NEW = "/password/change", "/password/change/otp", "/password/change/new"


@pytest.fixture
def other_browser(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def reach_new_password_step(browser, sms_file, person):  # type: ignore[no-untyped-def]
    started = fill(browser, START, document=person.document, password=person.password)
    assert is_sms_page(started, OTP)
    assert pass_sms(browser, OTP, sms_file).headers["Location"] == NEW


def log_in_form(browser, document: str, password: str):  # type: ignore[no-untyped-def]
    return fill(browser, "/login", document=document, password=password)


def test_citizen_changes_the_password_and_only_the_new_one_logs_in(app, browser, sms_file):
    person = make_citizen()
    reach_new_password_step(browser, sms_file, person)

    done = choose_password(browser, NEW)

    assert done.status_code == 200 and shows_message(done, "password_changed")
    assert read_sms_file(sms_file)[-1]["text"] == password_replaced_text(0)
    assert log_in_form(browser, person.document, person.password).status_code == 401
    assert is_login_sms_page(log_in_form(browser, person.document, NEW_PASSWORD))
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.PASSWORD_CHANGED))


def test_a_change_restarts_the_two_years_of_the_password(app, browser, sms_file):
    person = make_citizen()
    clock.advance(days=700)
    reach_new_password_step(browser, sms_file, person)
    choose_password(browser, NEW)
    db.session.refresh(person.citizen)
    remaining = person.citizen.password_expires_at - clock.now()
    assert timedelta(days=729, hours=23) < remaining <= timedelta(days=730)


def test_an_expired_password_can_be_changed_here(app, browser, sms_file):
    person = make_citizen()
    clock.advance(days=731)
    reach_new_password_step(browser, sms_file, person)
    assert choose_password(browser, NEW).status_code == 200
    db.session.refresh(person.citizen)
    assert not person.citizen.password_expired()


def test_the_new_password_must_differ_from_the_current_one(app, browser, sms_file):
    person = make_citizen()
    reach_new_password_step(browser, sms_file, person)
    same = choose_password(browser, NEW, person.password)
    assert same.status_code == 400 and shows_message(same, "password_same_as_previous")


def test_policy_failing_password_lists_every_failed_rule_and_changes_nothing(app, browser, sms_file):
    person = make_citizen()
    old_hash = person.citizen.password_hash
    reach_new_password_step(browser, sms_file, person)

    refused = fill(browser, NEW, **WEAK)

    assert refused.status_code == 400
    for key in WEAK_PASSWORD_PROBLEMS:
        assert shows_message(refused, key), key
    db.session.refresh(person.citizen)
    assert person.citizen.password_hash == old_hash


def test_wrong_current_passwords_count_like_logins_and_the_fifth_blocks(app, browser):
    person = make_citizen()
    for _ in range(4):
        refused = fill(browser, START, document=person.document, password="Mala-Clave-99")
        assert refused.status_code == 401 and shows_message(refused, "login_failed")
    db.session.refresh(person.citizen)
    assert person.citizen.password_failures == 4 and not person.citizen.password_blocked

    fill(browser, START, document=person.document, password="Mala-Clave-99")
    db.session.refresh(person.citizen)
    assert person.citizen.password_blocked
    blocked = fill(browser, START, document=person.document, password=person.password)
    assert blocked.status_code == 401


def test_unknown_document_and_wrong_password_get_the_same_answer(app, browser):
    person = make_citizen()
    unknown = fill(browser, START, document=new_dni(), password="Mala-Clave-99")
    wrong = fill(browser, START, document=person.document, password="Mala-Clave-99")
    assert unknown.status_code == wrong.status_code == 401
    assert refusal(unknown) == refusal(wrong)


def test_malformed_document_is_refused_before_any_lookup(app, browser):
    person = make_citizen()
    refused = fill(browser, START, document="1234-not-a-dni", password=person.password)
    assert refused.status_code == 400 and shows_message(refused, "document_format")
    wrong_letter = "A" if person.document[-1] != "A" else "B"
    refused = fill(browser, START, document=person.document[:-1] + wrong_letter, password="x")
    assert refused.status_code == 400 and shows_message(refused, "document_control_letter")


def test_forms_without_csrf_token_are_refused_and_change_nothing(app, browser, sms_file):
    person = make_citizen()
    refused = browser.post(START, data={"document": person.document, "password": "x"})
    assert refused.status_code == 400 and shows_message(refused, "csrf_failed")
    db.session.refresh(person.citizen)
    assert person.citizen.password_failures == 0

    reach_new_password_step(browser, sms_file, person)
    old_hash = person.citizen.password_hash
    stale = browser.post(NEW, data={"new_password": NEW_PASSWORD,
                                    "new_password_confirm": NEW_PASSWORD})
    assert stale.status_code == 400
    db.session.refresh(person.citizen)
    assert person.citizen.password_hash == old_hash


def test_a_used_sms_code_is_refused_when_sent_again(app, browser, sms_file):
    person = make_citizen()
    fill(browser, START, document=person.document, password=person.password)
    page = browser.get(OTP)
    code = latest_code(sms_file)
    assert submit(browser, page, OTP, otp=code).status_code == 302
    clock.advance(seconds=31)
    fill(browser, START, document=person.document, password=person.password)
    replayed = submit(browser, browser.get(OTP), OTP, otp=code)
    assert replayed.status_code == 400 and shows_message(replayed, "otp_wrong")


def test_changing_the_password_ends_the_other_browsers_session_and_tokens(
        app, browser, other_browser, sms_file):
    person = make_citizen()
    rp = make_client()
    elsewhere = tokens_for(other_browser, sms_file, rp, person)
    log_in_to_account(browser, person.document, person.password, sms_file)

    reach_new_password_step(browser, sms_file, person)
    choose_password(browser, NEW)

    silent = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra={"prompt": "none"})
    assert query(silent.start(other_browser))["error"] == "login_required"
    assert refresh(other_browser, rp, elsewhere["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert browser.get("/account").status_code == 200  # the browser that changed it stays in


def test_the_form_offers_the_logged_in_citizens_document(app, browser, sms_file):
    person = make_citizen()
    log_in_to_account(browser, person.document, person.password, sms_file)
    assert f'value="{person.document}"' in browser.get(START).get_data(as_text=True)


def test_changing_the_password_revokes_the_enrolled_apps_and_tells_the_citizen_by_sms(
        app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    clock.advance(seconds=31)  # the next SMS code may be sent
    reach_new_password_step(browser, sms_file, person)

    done = choose_password(browser, NEW)

    assert shows_message(done, "password_changed") and shows_message(done, "password_apps_revoked")
    assert signed_get(browser, device, f"{API}/pending").get_json()["error"] == "unknown_device"
    notice = read_sms_file(sms_file)[-1]
    assert notice["to"] == person.citizen.phone and notice["text"] == password_replaced_text(1)
    changed = db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.PASSWORD_CHANGED))
    assert changed.detail == {"reason": "change", "devices": 1, "passkeys": 0}
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.SMS_NOTICE_SENT))


def test_the_account_activity_lists_the_apps_revoked_by_a_password_change(app, browser, sms_file):
    person = make_citizen()
    enroll(app.test_client(), sms_file, person.document, person.password)
    clock.advance(seconds=31)
    reach_new_password_step(browser, sms_file, person)
    choose_password(browser, NEW)
    clock.advance(seconds=31)

    log_in_to_account(browser, person.document, NEW_PASSWORD, sms_file)
    activity = browser.get("/account").get_data(as_text=True)

    for tag in (EventTag.PASSWORD_CHANGED, EventTag.DEVICES_REVOKED, EventTag.SMS_NOTICE_SENT):
        assert event_label(tag) in activity, tag


class NoticesFail:
    """A gateway that delivers codes but fails every message without one (a notice)."""

    def __init__(self, codes) -> None:  # type: ignore[no-untyped-def]
        self.codes = codes

    def send(self, to: str, text: str) -> None:
        if not re.search(r"(?<!\d)\d{6}(?!\d)", text):
            raise SmsDeliveryError("gateway down")
        self.codes.send(to, text)


def test_a_failed_sms_notice_neither_undoes_the_change_nor_fails_the_page(
        app, browser, sms_file, monkeypatch):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    clock.advance(seconds=31)
    monkeypatch.setitem(app.extensions, "idp.sms", NoticesFail(app.extensions["idp.sms"]))
    reach_new_password_step(browser, sms_file, person)

    done = choose_password(browser, NEW)

    assert done.status_code == 200 and shows_message(done, "password_changed")
    assert is_login_sms_page(log_in_form(browser, person.document, NEW_PASSWORD))
    assert signed_get(browser, device, f"{API}/pending").get_json()["error"] == "unknown_device"
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.SMS_NOTICE_SEND_FAILED))
