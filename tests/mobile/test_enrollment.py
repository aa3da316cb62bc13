"""Enrolling the app: Permanent Cl@ve + SMS code, and a public key the IdP keeps."""

from __future__ import annotations

from idp.clock import clock
from idp.extensions import db
from idp.mobile.models import Device
from idp.sms import latest_code
from idp_mobile.device import DeviceKey
from tests.factories import make_citizen, new_dni
from tests.flows.support import never_sent_code, sms_sent, start_of_a_window
from tests.mobile.support import API, enroll, signed_get


def test_app_enrolls_with_password_and_sms_and_only_the_public_key_is_stored(app, browser, sms_file):
    person = make_citizen()
    device = enroll(browser, sms_file, person.document, person.password)
    stored = db.session.get(Device, device.device_id)
    assert stored.citizen_id == person.citizen.id
    assert "d" not in stored.public_jwk


def test_wrong_password_and_unknown_document_get_the_same_refusal(app, browser):
    person = make_citizen()
    wrong = browser.post(f"{API}/enrollments", json={"document": person.document, "password": "x"})
    unknown = browser.post(f"{API}/enrollments", json={"document": new_dni(), "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json() == {"error": "invalid_credentials"}


def test_a_private_key_is_refused_at_enrollment(app, browser, sms_file):
    person = make_citizen()
    started = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                       "password": person.password}).get_json()
    private = DeviceKey.generate().key.as_dict(private=True)
    refused = browser.post(f"{API}/devices",
                           json={"enrollment": started["enrollment"], "otp": latest_code(sms_file),
                                 "public_jwk": private})
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_key"
    assert db.session.scalar(db.select(db.func.count()).select_from(Device)) == 0


def test_wrong_sms_code_enrolls_nothing(app, browser, sms_file):
    person = make_citizen()
    started = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                       "password": person.password}).get_json()
    code = latest_code(sms_file)
    refused = browser.post(f"{API}/devices",
                           json={"enrollment": started["enrollment"],
                                 "otp": "000000" if code != "000000" else "111111",
                                 "public_jwk": DeviceKey.generate().public_jwk()})
    assert refused.status_code == 400
    assert db.session.scalar(db.select(db.func.count()).select_from(Device)) == 0


def test_openapi_document_is_served(app, browser):
    document = browser.get(f"{API}/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert "/enrollments" in document["paths"]


def test_unsigned_call_is_refused(app, browser):
    assert browser.get(f"{API}/pending").status_code == 401


def test_pending_lists_nothing_for_a_fresh_device(app, browser, sms_file):
    person = make_citizen()
    device = enroll(browser, sms_file, person.document, person.password)
    assert signed_get(browser, device, f"{API}/pending").get_json() == {"pending": []}


def test_account_page_lists_the_app_and_revoking_it_stops_its_approvals(app, browser, sms_file):
    from tests.support.browser import log_in_to_account, submit

    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    log_in_to_account(browser, person.document, person.password, sms_file)
    account = browser.get("/account")
    assert "Test phone" in account.get_data(as_text=True)
    revoked = submit(browser, account, "/account/devices/revoke", device=device.device_id)
    assert revoked.status_code == 302
    assert signed_get(browser, device, f"{API}/pending").get_json()["error"] == "unknown_device"
    assert db.session.get(Device, device.device_id).revoked_at is not None


def test_nobody_can_revoke_another_citizens_app(app, browser, sms_file):
    from tests.support.browser import log_in_to_account, submit

    owner, other = make_citizen(), make_citizen()
    device = enroll(app.test_client(), sms_file, owner.document, owner.password)
    log_in_to_account(browser, other.document, other.password, sms_file)
    refused = submit(browser, browser.get("/account"), "/account/devices/revoke", device=device.device_id)
    assert refused.status_code == 404
    assert db.session.get(Device, device.device_id).revoked_at is None


def right_code(browser, sms_file, person) -> dict:  # type: ignore[no-untyped-def]
    """What finishes a new enrollment of ``person``: its token, the code just sent and a key."""
    started = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                       "password": person.password}).get_json()
    return {"enrollment": started["enrollment"], "otp": latest_code(sms_file),
            "public_jwk": DeviceKey.generate().public_jwk()}


def test_enrollment_api_counts_wrong_codes_per_address(app, browser, sms_file):
    start_of_a_window(300)
    people = [make_citizen() for _ in range(10)]
    for person in people:  # three wrong codes each: no citizen reaches the lock of ten
        started = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                           "password": person.password}).get_json()
        for _ in range(3):
            answer = browser.post(f"{API}/devices", json={
                "enrollment": started["enrollment"], "otp": never_sent_code(sms_file),
                "public_jwk": DeviceKey.generate().public_jwk()})
            assert answer.status_code == 400
    refused = browser.post(f"{API}/devices", json=right_code(browser, sms_file, people[0]))
    assert refused.status_code == 429 and refused.get_json() == {"error": "rate_limited"}
    clock.advance(seconds=300)
    assert browser.post(f"{API}/devices", json=right_code(browser, sms_file, people[0])).status_code == 201


def test_a_citizen_whose_codes_are_locked_is_told_when_to_enroll_again(app, browser, sms_file):
    person = make_citizen()
    answers = []
    for tries in (3, 3, 3, 1):
        started = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                           "password": person.password}).get_json()
        answers += [browser.post(f"{API}/devices", json={
            "enrollment": started["enrollment"], "otp": never_sent_code(sms_file),
            "public_jwk": DeviceKey.generate().public_jwk()}) for _ in range(tries)]
    assert [answer.status_code for answer in answers] == [400] * 9 + [429]
    sent = sms_sent(sms_file)
    refused = browser.post(f"{API}/enrollments", json={"document": person.document,
                                                       "password": person.password})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert refused.get_json() == {"error": "otp_locked", "retry_after": 3600}
    assert sms_sent(sms_file) == sent
