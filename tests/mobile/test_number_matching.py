"""Number matching: the browser shows a code, the citizen types it in the app, the server
checks it. The app is never told the code, so an approval cannot be given blind; it is told
where the request comes from instead."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext

from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from tests.factories import make_citizen, make_client
from tests.mobile.support import (
    API,
    continue_login,
    decide,
    enroll,
    loaded,
    login_page,
    push,
    qr_challenge_id,
    shown_code,
    signed_get,
)
from tests.support.browser import AuthorizationAttempt, code_from, consent, shows_message

FIREFOX_ON_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _audited(tag: EventTag) -> int:
    return sum(1 for e in db.session.scalars(db.select(AuditEvent)) if e.tag == tag)


def _values(data: object) -> list[object]:
    """Every scalar in a JSON answer, however deeply nested."""
    if isinstance(data, dict):
        return [v for value in data.values() for v in _values(value)]
    if isinstance(data, list):
        return [v for value in data for v in _values(value)]
    return [data]


def test_both_paths_show_a_three_digit_code_to_type_in_the_app(app, browser, sms_file):
    person = make_citizen()
    enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    waiting = push(browser, page, person.document, person.contrast_data)

    for shown in (page, waiting):
        assert len(shown_code(shown)) == 3
        assert gettext("Type this code in the Cl@ve app:") in shown.get_data(as_text=True)


def test_qr_approval_with_the_code_shown_in_the_browser_logs_the_citizen_in(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)

    assert decide(browser, device, challenge_id, code=shown_code(page)).get_json() == {"status": "approved"}
    assert "/consent" in continue_login(browser, page, challenge_id).headers["Location"]


def test_qr_approval_without_the_code_shown_in_the_browser_is_denied(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)

    refused = decide(browser, device, challenge_id)

    assert refused.get_json() == {"status": "wrong_code"}
    assert browser.get(f"/mobile/status/{challenge_id}").get_json()["status"] == "denied"
    answer = continue_login(browser, page, challenge_id)
    assert answer.status_code == 400 and shows_message(answer, "mobile_denied")
    assert _audited(EventTag.MOBILE_WRONG_CODE) == 1 and _audited(EventTag.MOBILE_APPROVED) == 0


def test_push_approval_with_a_wrong_typed_code_is_denied_and_audited(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    waiting = push(browser, page, person.document, person.contrast_data)
    request = signed_get(browser, device, f"{API}/pending").get_json()["pending"][0]
    wrong = f"{(int(shown_code(waiting)) + 1) % 1000:03d}"

    assert decide(browser, device, request["id"], code=wrong).get_json() == {"status": "wrong_code"}

    assert browser.get(f"/mobile/status/{request['id']}").get_json()["status"] == "denied"
    assert continue_login(browser, waiting, request["id"]).status_code == 400
    assert _audited(EventTag.MOBILE_WRONG_CODE) == 1


def test_push_approval_with_the_typed_code_logs_the_citizen_in(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    waiting = push(browser, page, person.document, person.contrast_data)
    request = signed_get(browser, device, f"{API}/pending").get_json()["pending"][0]

    assert decide(browser, device, request["id"], code=shown_code(waiting)).get_json() == {
        "status": "approved"}
    assert code_from(consent(browser, continue_login(browser, waiting, request["id"])))


def test_after_a_wrong_code_the_right_one_no_longer_approves(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id, right = qr_challenge_id(page), shown_code(page)
    decide(browser, device, challenge_id, code=f"{(int(right) + 1) % 1000:03d}")

    again = decide(browser, device, challenge_id, code=right)

    assert again.status_code == 404 and again.get_json()["error"] == "challenge_unavailable"


def test_a_code_that_is_not_text_denies_without_a_server_error(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    for typed in (lambda right: int(right), lambda right: [right], lambda right: {"code": right},
                  lambda right: right + "\u00e9", lambda right: True):
        _, page = login_page(browser, make_client())
        answer = decide(browser, device, qr_challenge_id(page), code=typed(shown_code(page)))
        assert answer.status_code == 200 and answer.get_json() == {"status": "wrong_code"}


def test_denying_needs_no_code(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())

    assert decide(browser, device, qr_challenge_id(page), "deny").get_json() == {"status": "denied"}
    assert _audited(EventTag.MOBILE_DENIED) == 1


def test_the_app_is_not_told_the_code_it_must_type(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    waiting = push(browser, page, person.document, person.contrast_data)

    scanned = signed_get(browser, device, f"{API}/challenges/{qr_challenge_id(page)}").get_json()
    pending = signed_get(browser, device, f"{API}/pending").get_json()["pending"]

    assert len(pending) == 1
    for details, code in ((scanned, shown_code(page)), (pending[0], shown_code(waiting))):
        assert not {"verification_code", "numbers", "code"} & set(details)
        assert code not in _values(details) and int(code) not in _values(details)


def test_the_app_sees_the_requests_address_browser_and_time(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    asked_at = clock.now().replace(microsecond=0)
    browser.environ_base["HTTP_USER_AGENT"] = FIREFOX_ON_WINDOWS  # on every request, as browsers do
    page = loaded(browser, attempt.start(browser))

    details = signed_get(browser, device, f"{API}/challenges/{qr_challenge_id(page)}").get_json()

    assert details["origin"] == {"ip": "127.0.0.1", "user_agent": FIREFOX_ON_WINDOWS,
                                 "browser": "Firefox", "system": "Windows"}
    requested_at = datetime.fromisoformat(details["requested_at"])
    assert requested_at.tzinfo == UTC and details["requested_at"].endswith("Z")
    assert asked_at <= requested_at.replace(tzinfo=None) <= clock.now()
    assert details["requester"] == "Agencia de Pruebas"
    assert set(details["requested_claims"]) >= {"given_name", "family_name"}


def test_the_openapi_document_describes_the_challenge_the_app_receives(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    details = signed_get(browser, device, f"{API}/challenges/{qr_challenge_id(page)}").get_json()

    schema = browser.get(f"{API}/openapi.json").get_json()["components"]["schemas"]["Challenge"]

    assert set(schema["required"]) <= set(details) <= set(schema["properties"])
    origin = schema["properties"]["origin"]
    assert set(origin["required"]) == set(details["origin"]) == set(origin["properties"])
