"""A signature authorised in the Cl@ve app: the app's pending request names the document and
its SHA-256; its approval, with the code the signature page shows, signs that one
document, once; it never logs anyone in, and a login challenge never signs."""

from __future__ import annotations

import re

import pytest

from idp.audit import EventTag
from idp.extensions import db
from idp.models import AuditEvent
from tests.firma.rp import ask_pdf, download, returned, sign_path, sms_file_of, status_of
from tests.firma.support import fetch_published, make_pdf, pyhanko_status
from tests.flows.test_account import log_in as log_in_to_account
from tests.mobile.support import API, decide, enroll, shown_code, signed_get
from tests.support.browser import is_sms_page, shows_message, submit


@pytest.fixture
def phone(app, person, sms_file):  # type: ignore[no-untyped-def]
    return enroll(app.test_client(), sms_file, person.document, person.password)


def challenge_of(page) -> str:  # type: ignore[no-untyped-def]
    return re.search(r'data-challenge="([^"]+)"', page.get_data(as_text=True)).group(1)


def ask_the_app(browser, path: str):  # type: ignore[no-untyped-def]
    page = submit(browser, browser.get(path), f"{path}/sign", method="app")
    assert page.status_code == 200, page.get_data(as_text=True)
    return page


def test_the_app_shows_the_document_and_its_digest_and_its_approval_signs_it(
        browser, rp, client, person, phone, app):
    pdf = make_pdf()
    created = ask_pdf(rp, client, pdf, filename="contrato.pdf")
    path = sign_path(created)
    log_in_to_account(browser, person)
    page = ask_the_app(browser, path)
    [pending] = signed_get(app.test_client(), phone, f"{API}/pending").get_json()["pending"]
    assert pending["kind"] == "signature" and pending["requester"] == "Agencia de Pruebas"
    assert pending["document"]["name"] == "contrato.pdf"
    assert pending["document"]["sha256"] in page.get_data(as_text=True)

    assert decide(app.test_client(), phone, pending["id"], code=shown_code(page)).get_json() == {
        "status": "approved"}
    uri, query = returned(submit(browser, page, "/signature/app", challenge=challenge_of(page)))

    assert uri == client.redirect_uri and query["request_id"] == created.get_json()["request_id"]
    signed = download(rp, client, query["request_id"]).get_data()
    status = pyhanko_status(signed, fetch_published(browser))
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    db.session.rollback()
    [event] = db.session.scalars(db.select(AuditEvent).filter_by(tag=EventTag.SIGNATURE_SIGNED.value))
    assert event.detail["method"] == "mobile"


def test_before_the_app_decides_continuing_signs_nothing(browser, rp, client, person, phone):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_the_app(browser, path)
    waiting = submit(browser, page, "/signature/app", challenge=challenge_of(page))
    assert waiting.status_code == 200 and shows_message(waiting, "mobile_not_yet")
    assert status_of(rp, client, path.rsplit("/", 1)[1]).get_json()["status"] == "pending"


@pytest.mark.parametrize(("decision", "code"), [("deny", None), ("approve", "wrong")])
def test_a_denial_or_a_wrong_code_in_the_app_signs_nothing(browser, rp, client, person, phone, app,
                                                          decision, code):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_the_app(browser, path)
    decide(app.test_client(), phone, challenge_of(page), decision, code=code)
    refused = submit(browser, page, "/signature/app", challenge=challenge_of(page))
    assert refused.status_code == 400 and shows_message(refused, "signature_app_denied")
    assert status_of(rp, client, path.rsplit("/", 1)[1]).get_json()["status"] == "pending"


def test_an_approved_signature_is_never_a_login(browser, rp, client, person, phone, app):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_the_app(browser, path)
    decide(app.test_client(), phone, challenge_of(page), code=shown_code(page))
    refused = submit(browser, page, "/mobile/continue", challenge=challenge_of(page))
    assert refused.status_code == 400
    assert status_of(rp, client, path.rsplit("/", 1)[1]).get_json()["status"] == "pending"


def test_an_approval_signs_once(browser, rp, client, person, phone, app):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_the_app(browser, path)
    decide(app.test_client(), phone, challenge_of(page), code=shown_code(page))
    returned(submit(browser, page, "/signature/app", challenge=challenge_of(page)))
    again = submit(browser, page, "/signature/app", challenge=challenge_of(page))
    assert again.status_code == 404 and shows_message(again, "signature_unavailable")
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).filter_by(
        tag=EventTag.SIGNATURE_SIGNED.value)) == 1


def test_without_an_enrolled_app_the_review_offers_only_the_sms_code(browser, rp, client, person):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    assert 'name="method" value="app"' not in browser.get(path).get_data(as_text=True)
    asked = submit(browser, browser.get(path), f"{path}/sign", method="app")
    assert is_sms_page(asked, "/signature/otp")
    assert sms_file_of(browser).exists()


def test_a_citizen_asking_for_more_signatures_than_the_limit_is_refused(browser, rp, client, person,
                                                                      phone, app):
    count = int(app.config["IDP_RATE_LIMITS"].split("signature.citizen=")[1].split("/")[0])
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    for _ in range(count):
        ask_the_app(browser, path)
    refused = submit(browser, browser.get(path), f"{path}/sign", method="app")
    assert refused.status_code == 429 and shows_message(refused, "rate_limited")
