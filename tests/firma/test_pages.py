"""The citizen's side of Cl@ve Firma: a substantial login first, the review of what is
signed, refusing, and a signer named by the RP."""

from __future__ import annotations

import pytest

from idp.assurance import ACR_LOW
from idp.audit import EventTag
from idp.extensions import db
from idp.firma.signature_requests import SignatureRequest
from idp.models import AuditEvent
from tests.factories import make_citizen
from tests.firma.rp import (
    DIGEST,
    ask_digest,
    returned,
    sign_path,
    signature_client,
    sms_file_of,
    status_of,
)
from tests.flows.test_account import log_in as log_in_to_account
from tests.support.browser import AuthorizationAttempt, csrf_token, log_in, shows_message, submit


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    return signature_client(redirect_uris=["https://rp.example/signed?from=idp"])


def events(tag: EventTag) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(db.select(AuditEvent).filter_by(tag=tag.value)))


def test_without_a_session_the_sign_url_sends_to_log_in_and_back(browser, rp, client, person):
    path = sign_path(ask_digest(rp, client))
    first = browser.get(path)
    assert first.status_code == 302 and first.headers["Location"] == "/login"
    after_login = log_in(browser, first, person.document, person.password, sms_file_of(browser))
    assert after_login.status_code == 302 and after_login.headers["Location"] == path
    review = browser.get(path)
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert "Agencia de Pruebas" in html and "contract.pdf" in html and DIGEST in html


def test_a_session_at_the_low_level_is_not_enough_to_review(browser, rp, app, person):
    low_rp = signature_client(default_acr=ACR_LOW)
    attempt = AuthorizationAttempt(low_rp.client_id, low_rp.redirect_uri)
    log_in(browser, attempt.start(browser), person.document, person.password)  # password only
    answer = browser.get(sign_path(ask_digest(rp, low_rp)))
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"


def test_refusing_returns_to_the_rp_with_the_request_and_state(browser, rp, client, person):
    created = ask_digest(rp, client, state="s t&x")
    path = sign_path(created)
    log_in_to_account(browser, person)
    review = browser.get(path)
    back = submit(browser, review, f"{path}/refuse")
    uri, query = returned(back)
    assert uri == "https://rp.example/signed"
    assert query == {"from": "idp", "request_id": created.get_json()["request_id"], "state": "s t&x"}
    assert status_of(rp, client, query["request_id"]).get_json()["status"] == "refused"
    assert [e.citizen_id for e in events(EventTag.SIGNATURE_DECLINED)] == [person.citizen.id]
    again = browser.get(path)
    assert again.status_code == 404 and shows_message(again, "signature_unavailable")


def test_a_signer_named_by_the_rp_is_the_only_one_who_may_see_or_decide(browser, rp, client, person):
    named = make_citizen()
    path = sign_path(ask_digest(rp, client, document=named.document))
    log_in_to_account(browser, person)
    for answer in (browser.get(path), browser.get(f"{path}/document")):
        assert answer.status_code == 403 and shows_message(answer, "signature_other_signer")
        assert named.document not in answer.get_data(as_text=True)
    review_of_another = browser.get("/account")
    for action in ("sign", "refuse"):
        answer = submit(browser, review_of_another, f"{path}/{action}")
        assert answer.status_code == 403
    request_id = path.rsplit("/", 1)[1]
    assert status_of(rp, client, request_id).get_json()["status"] == "pending"
    assert len(events(EventTag.SIGNATURE_SIGNER_MISMATCH)) == 4
    db.session.rollback()
    assert db.session.get(SignatureRequest, request_id).citizen_id is None


def test_the_named_signer_may_review(browser, rp, client, person):
    path = sign_path(ask_digest(rp, client, document=person.document.lower()))
    log_in_to_account(browser, person)
    assert browser.get(path).status_code == 200


def test_an_unknown_or_expired_request_is_a_clear_page(browser, rp, client, person, app):
    from idp.clock import clock

    path = sign_path(ask_digest(rp, client))
    log_in_to_account(browser, person)
    unknown = browser.get("/signature/no-such-request")
    assert unknown.status_code == 404 and shows_message(unknown, "signature_unavailable")
    clock.advance(seconds=app.config["IDP_FIRMA_REQUEST_TTL"])
    expired = browser.get(path)
    assert expired.status_code == 404 and shows_message(expired, "signature_unavailable")


def test_the_forms_of_the_review_page_need_their_csrf_token(browser, rp, client, person):
    path = sign_path(ask_digest(rp, client))
    log_in_to_account(browser, person)
    for action in ("sign", "refuse"):
        assert browser.post(f"{path}/{action}").status_code == 400
    assert status_of(rp, client, path.rsplit("/", 1)[1]).get_json()["status"] == "pending"


def test_a_signature_left_for_a_relying_partys_login_is_not_returned_to_later(browser, rp, client, person):
    browser.get(sign_path(ask_digest(rp, client)))  # sent to log in, and left there
    login_rp = signature_client(default_acr=ACR_LOW)
    attempt = AuthorizationAttempt(login_rp.client_id, login_rp.redirect_uri)
    log_in(browser, attempt.start(browser), person.document, person.password)
    browser.post("/session/end", data={"csrf_token": csrf_token(browser.get("/").get_data(as_text=True))})
    after = log_in(browser, browser.get("/login"), person.document, person.password, sms_file_of(browser))
    assert after.headers["Location"] == "/account"
