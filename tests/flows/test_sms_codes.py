"""The SMS-code step every flow shares: wrong codes counted per citizen across flows and
resends, sends throttled without hiding a first code, and pages that say what happened."""

from __future__ import annotations

import pytest

from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from idp.sms import latest_code
from idp_mobile.device import DeviceKey
from tests.factories import make_citizen
from tests.flows.support import fill, never_sent_code, sms_sent, sql_work, start_of_a_window
from tests.mobile.support import API
from tests.support.browser import is_sms_page, shows_message, submit

LOGIN, LOGIN_OTP = "/login", "/login/otp"


def start_login(browser, person):  # type: ignore[no-untyped-def]
    return fill(browser, LOGIN, document=person.document, password=person.password)


def type_code(browser, url: str, code: str):  # type: ignore[no-untyped-def]
    return submit(browser, browser.get(url), url, otp=code)


def ask_again(browser, url: str):  # type: ignore[no-untyped-def]
    return submit(browser, browser.get(url), url, action="resend")


def locked_events(person) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).filter_by(
        tag=EventTag.OTP_LOCKED, citizen_id=person.citizen.id))


def test_wrong_sms_codes_across_flows_and_resends_lock_the_citizens_codes_for_an_hour(
        app, browser, sms_file):
    person = make_citizen()
    bystander = app.test_client()  # the citizen's own flow, with a good code sent before the lock
    fill(bystander, "/password/change", document=person.document, password=person.password)
    kept = latest_code(sms_file)

    start_login(browser, person)
    for _ in range(3):
        type_code(browser, LOGIN_OTP, never_sent_code(sms_file))
    clock.advance(seconds=app.config["IDP_OTP_RESEND_INTERVAL"])
    assert ask_again(browser, LOGIN_OTP).status_code == 200
    for _ in range(2):
        type_code(browser, LOGIN_OTP, never_sent_code(sms_file))
    fill(browser, "/password/forgot", document=person.document, activation_code=person.activation_code)
    for _ in range(3):
        type_code(browser, "/password/forgot/otp", never_sent_code(sms_file))
    enrollment = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                          "password": person.password}).get_json()
    answers = [browser.post(f"{API}/devices", json={
        "enrollment": enrollment["enrollment"], "otp": never_sent_code(sms_file),
        "public_jwk": DeviceKey.generate().public_jwk()}) for _ in range(2)]

    assert answers[0].get_json() == {"error": "otp_wrong"}
    assert answers[1].status_code == 429  # the tenth wrong code
    assert answers[1].get_json() == {"error": "otp_locked", "retry_after": 3600}
    refused = type_code(bystander, "/password/change/otp", kept)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert shows_message(refused, "otp_locked", wait="1 hora")
    sent = sms_sent(sms_file)
    start_login(app.test_client(), person)
    assert sms_sent(sms_file) == sent  # no code is sent while they are refused
    assert locked_events(person) == 1

    clock.advance(hours=1)
    later = app.test_client()
    start_login(later, person)
    assert type_code(later, LOGIN_OTP, latest_code(sms_file)).headers["Location"] == "/account"


def test_a_new_flow_while_the_codes_are_locked_says_so_and_claims_no_code(app, sms_file):
    person = make_citizen()
    answers = []
    for tries in (3, 3, 3, 1):
        browser = app.test_client()
        start_login(browser, person)
        answers += [type_code(browser, LOGIN_OTP, never_sent_code(sms_file)) for _ in range(tries)]
    assert [answer.status_code for answer in answers] == [400] * 9 + [429]
    assert shows_message(answers[-1], "otp_locked", wait="1 hora")

    late = app.test_client()
    page = start_login(late, person)  # the password answers the SMS-code page
    assert page.status_code == 429 and shows_message(page, "otp_locked", wait="1 hora")
    assert not shows_message(page, "otp_sent", last_digits="222")


def test_a_second_login_within_the_resend_interval_still_gets_a_code_and_a_truthful_page(
        app, browser, sms_file):
    person = make_citizen()
    start_login(app.test_client(), person)
    page = start_login(browser, person)
    assert page.status_code == 200 and shows_message(page, "otp_sent", last_digits="222")
    assert sms_sent(sms_file) == 2
    assert type_code(browser, LOGIN_OTP, latest_code(sms_file)).headers["Location"] == "/account"


def test_a_resend_within_the_interval_is_refused_with_the_wait_and_no_claim_of_a_new_code(
        app, browser, sms_file):
    person = make_citizen()
    start_login(browser, person)
    refused = ask_again(browser, LOGIN_OTP)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"
    assert shows_message(refused, "otp_resend_wait", wait="30 segundos")
    assert not shows_message(refused, "otp_resent")
    assert sms_sent(sms_file) == 1
    clock.advance(seconds=app.config["IDP_OTP_RESEND_INTERVAL"])
    resent = ask_again(browser, LOGIN_OTP)
    assert resent.status_code == 200 and shows_message(resent, "otp_resent")
    assert sms_sent(sms_file) == 2


def test_codes_sent_to_one_citizen_are_capped_per_hour_and_the_page_says_none_was_sent(
        app, browser, sms_file):
    start_of_a_window(3600)
    person = make_citizen()
    for _ in range(10):
        start_login(app.test_client(), person)
    page = start_login(browser, person)
    assert page.status_code == 429 and shows_message(page, "otp_send_limit")
    assert not shows_message(page, "otp_sent", last_digits="222")
    assert sms_sent(sms_file) == 10


def test_codes_sent_from_one_address_are_capped_per_hour(app, browser, sms_file):
    start_of_a_window(3600)
    people = [make_citizen() for _ in range(7)]
    for person in people[:6]:
        for _ in range(10):
            start_login(app.test_client(), person)
    page = start_login(browser, people[6])
    assert page.status_code == 429 and shows_message(page, "otp_send_limit")
    assert sms_sent(sms_file) == 60


def test_a_flow_starting_at_its_sms_step_stores_its_state_once_with_the_code_sent(
        app, browser, sms_file):
    person = make_citizen()
    with sql_work(app) as work:
        sent = start_login(browser, person)
    assert sent.status_code == 200 and sms_sent(sms_file) == 1
    assert [s.split()[0] for s in work.writes_to("flow_states")] == ["INSERT"]
    assert type_code(browser, LOGIN_OTP, latest_code(sms_file)).status_code == 302  # it is the flow's code


def test_a_flow_step_reads_its_state_and_citizen_in_one_statement(app, browser, sms_file):
    person = make_citizen()
    start_login(browser, person)
    with sql_work(app) as work:
        page = browser.get(LOGIN_OTP)
    assert page.status_code == 200 and shows_message(page, "otp_sent", last_digits="222")
    read = [s for s in work.sql if "flow_states" in s or "citizens" in s]
    assert len(read) == 1 and "JOIN citizens" in read[0]


# The first form of each flow that starts at an SMS step, the step's address, and the
# fields that pass the form.
FIRST_FORMS = {
    "activation": ("/activate", "/activate/otp", lambda p: {
        "document": p.document, "email": p.citizen.email, "activation_code": p.activation_code}),
    "password change": ("/password/change", "/password/change/otp", lambda p: {
        "document": p.document, "password": p.password}),
    "password reset": ("/password/forgot", "/password/forgot/otp", lambda p: {
        "document": p.document, "activation_code": p.activation_code}),
    "unsubscribing": ("/unsubscribe", "/unsubscribe/otp", lambda p: {
        "document": p.document, "password": p.password}),
}


@pytest.mark.parametrize("flow", FIRST_FORMS)
def test_every_first_form_answers_its_sms_page_and_posting_it_again_sends_no_other_code(
        app, browser, sms_file, flow):
    start, step, fields = FIRST_FORMS[flow]
    person = make_citizen(active=flow != "activation")
    form = browser.get(start)

    first = submit(browser, form, start, **fields(person))
    code = latest_code(sms_file)
    again = submit(browser, form, start, **fields(person))  # a reload without JavaScript

    assert is_sms_page(first, step) and is_sms_page(again, step)
    assert f'<input type="hidden" name="next" value="{step}">' in again.get_data(as_text=True)
    assert sms_sent(sms_file) == 1
    assert submit(browser, again, step, otp=code).status_code == 302  # the first code, accepted
