"""From a relying party's request to its one download, through the citizen's review and an
SMS code sent for that one signature; and every bad input of issue 16 refused clearly,
with nothing signed and nothing changed."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
from asn1crypto import cms

from idp.audit import EventTag
from idp.extensions import db
from idp.firma.models import SigningCertificate
from idp.firma.signature_requests import SignatureRequest
from idp.models import AuditEvent
from idp.sms import latest_code, read_sms_file
from tests.factories import make_citizen
from tests.firma.rp import (
    DIGEST,
    ask_digest,
    ask_pdf,
    download,
    returned,
    sign_path,
    sms_file_of,
    status_of,
)
from tests.firma.support import encrypted_pdf, fetch_published, make_pdf, openssl_cms_verify, pyhanko_status
from tests.flows.support import wrong_code
from tests.flows.test_account import log_in as log_in_to_account
from tests.oidc.test_code_flow import basic
from tests.support.browser import is_sms_page, shows_message, submit


def events(tag: EventTag) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(db.select(AuditEvent).filter_by(tag=tag.value)))


def certificates() -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count()).select_from(SigningCertificate))


def stored_requests() -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.count()).select_from(SignatureRequest))


def ask_for_the_code(browser, path: str):  # type: ignore[no-untyped-def]
    """Review, then "Sign": the SMS-code page of this signature (its answer)."""
    started = submit(browser, browser.get(path), f"{path}/sign")
    assert is_sms_page(started, "/signature/otp"), started.get_data(as_text=True)
    return started


def sign_with_sms(browser, path: str):  # type: ignore[no-untyped-def]
    page = ask_for_the_code(browser, path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return submit(browser, page, "/signature/otp", otp=latest_code(sms_file_of(browser)))


def test_a_pdf_signed_with_an_sms_code_comes_back_valid_against_the_published_ca(browser, rp, client, person):
    pdf = make_pdf(pages=2)
    created = ask_pdf(rp, client, pdf, reason="Conformidad")
    path = sign_path(created)
    log_in_to_account(browser, person)
    review = browser.get(path)
    html = review.get_data(as_text=True)
    assert f"<dd>{len(pdf)}</dd>" in html and ">2<" in html and "Conformidad" in html
    assert browser.get(f"{path}/document").get_data() == pdf  # the exact bytes

    uri, query = returned(sign_with_sms(browser, path))

    request_id = created.get_json()["request_id"]
    assert uri == client.redirect_uri and query == {"request_id": request_id, "state": "st-1"}
    assert status_of(rp, client, request_id).get_json() | {"expires_at": None} == {
        "request_id": request_id, "status": "signed", "kind": "pdf", "downloaded": False,
        "sha256": review.get_data(as_text=True).split('class="digest">')[1][:64], "expires_at": None}
    signed = download(rp, client, request_id)
    assert signed.status_code == 200 and signed.mimetype == "application/pdf"
    status = pyhanko_status(signed.get_data(), fetch_published(browser))
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    [event] = events(EventTag.SIGNATURE_SIGNED)
    assert (event.citizen_id, event.client_id) == (person.citizen.id, client.client_id)
    assert event.detail["method"] == "sms"
    assert len(events(EventTag.SIGNATURE_DOWNLOADED)) == 1


def test_a_digest_signed_with_an_sms_code_is_a_cms_signature_openssl_verifies(
        browser, rp, client, person, tmp_path):
    content = b"the contract the body keeps"
    assert hashlib.sha256(content).hexdigest() == DIGEST
    path = sign_path(ask_digest(rp, client))
    log_in_to_account(browser, person)
    _, query = returned(sign_with_sms(browser, path))
    signed = download(rp, client, query["request_id"])
    assert signed.mimetype == "application/pkcs7-signature"
    cms.ContentInfo.load(signed.get_data())  # well-formed
    (tmp_path / "sig.p7s").write_bytes(signed.get_data())
    (tmp_path / "content").write_bytes(content)
    (tmp_path / "ca.der").write_bytes(fetch_published(browser).ca_der)
    subprocess.run(["openssl", "x509", "-inform", "DER", "-in", str(tmp_path / "ca.der"),
                    "-out", str(tmp_path / "ca.pem")], check=True)
    verified = openssl_cms_verify(tmp_path / "sig.p7s", tmp_path / "content", tmp_path / "ca.pem")
    assert verified.returncode == 0, verified.stderr


def test_a_second_download_is_refused_and_the_bytes_are_gone(browser, rp, client, person):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    _, query = returned(sign_with_sms(browser, path))
    assert download(rp, client, query["request_id"]).status_code == 200
    again = download(rp, client, query["request_id"])
    assert again.status_code == 410 and again.get_json()["error"] == "already_downloaded"
    db.session.rollback()
    stored = db.session.get(SignatureRequest, query["request_id"])
    assert stored.signature is None and stored.document is None
    assert status_of(rp, client, query["request_id"]).get_json()["downloaded"] is True
    assert [e.detail["status"] for e in events(EventTag.SIGNATURE_DOWNLOAD_REFUSED)] == ["downloaded"]


def test_a_replayed_sms_code_signs_nothing_more(browser, rp, client, person):
    first = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_for_the_code(browser, first)
    code = latest_code(sms_file_of(browser))
    returned(submit(browser, page, "/signature/otp", otp=code))
    second = sign_path(ask_pdf(rp, client, make_pdf(pages=3)))
    page = ask_for_the_code(browser, second)
    replayed = submit(browser, page, "/signature/otp", otp=code)
    assert replayed.status_code == 400
    assert shows_message(replayed, "otp_expired") or shows_message(replayed, "otp_wrong")
    assert status_of(rp, client, second.rsplit("/", 1)[1]).get_json()["status"] == "pending"
    assert len(events(EventTag.SIGNATURE_SIGNED)) == 1


def test_the_code_of_a_signature_once_used_does_not_sign_it_again(browser, rp, client, person):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_for_the_code(browser, path)
    code = latest_code(sms_file_of(browser))
    returned(submit(browser, page, "/signature/otp", otp=code))
    again = browser.post("/signature/otp", data={"otp": code})
    assert again.status_code == 400
    assert len(events(EventTag.SIGNATURE_SIGNED)) == 1


def test_a_wrong_sms_code_signs_nothing(browser, rp, client, person):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_for_the_code(browser, path)
    refused = submit(browser, page, "/signature/otp", otp=wrong_code(sms_file_of(browser)))
    assert refused.status_code == 400 and shows_message(refused, "otp_wrong")
    assert status_of(rp, client, path.rsplit("/", 1)[1]).get_json()["status"] == "pending"
    assert events(EventTag.SIGNATURE_SIGNED) == [] and certificates() == 0


def test_a_citizen_other_than_the_one_named_is_refused_before_any_code_is_sent(browser, rp, client, person):
    named = make_citizen()
    path = sign_path(ask_pdf(rp, client, make_pdf(), document=named.document))
    log_in_to_account(browser, person)
    refused = submit(browser, browser.get("/account"), f"{path}/sign")
    assert refused.status_code == 403 and shows_message(refused, "signature_other_signer")
    assert [e.detail["purpose"] for e in events(EventTag.OTP_SENT)] == ["login"]  # none for signing
    assert status_of(rp, client, path.rsplit("/", 1)[1]).get_json()["status"] == "pending"
    assert certificates() == 0


def test_the_named_signer_signs(browser, rp, client, person):
    path = sign_path(ask_pdf(rp, client, make_pdf(), document=person.document))
    log_in_to_account(browser, person)
    _, query = returned(sign_with_sms(browser, path))
    assert status_of(rp, client, query["request_id"]).get_json()["status"] == "signed"


def test_a_request_naming_no_signer_belongs_to_the_first_citizen_who_opens_it(
        app, browser, rp, client, person):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    assert browser.get(path).status_code == 200
    someone_else = app.test_client()
    log_in_to_account(someone_else, make_citizen())
    for refused in (someone_else.get(path), someone_else.get(f"{path}/document"),
                    submit(someone_else, someone_else.get("/account"), f"{path}/sign")):
        assert refused.status_code == 403 and shows_message(refused, "signature_other_signer")
    _, query = returned(sign_with_sms(browser, path))
    assert status_of(rp, client, query["request_id"]).get_json()["status"] == "signed"


@pytest.mark.parametrize(("document", "problem"), [
    (b"GIF89a not a pdf at all", "it is not a PDF"),
    (encrypted_pdf(), "it is encrypted"),
    (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF", "damaged"),
], ids=["not-a-pdf", "encrypted", "damaged"])  # named: an encrypted PDF's bytes differ per run
def test_a_document_that_cannot_be_signed_is_invalid_document(rp, client, document, problem):
    refused = ask_pdf(rp, client, document)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_document"
    assert problem in refused.get_json()["error_description"]
    assert stored_requests() == 0
    assert len(events(EventTag.SIGNATURE_REQUEST_REFUSED)) == 1


def test_a_pdf_over_the_limit_is_document_too_large(rp, client, app):
    oversized = make_pdf(filler_bytes=app.config["IDP_FIRMA_MAX_PDF_BYTES"])
    refused = ask_pdf(rp, client, oversized)
    assert refused.status_code == 413
    assert refused.get_json()["error"] == "document_too_large"
    assert stored_requests() == 0


def test_a_pdf_just_under_the_limit_is_accepted(rp, client, app):
    limit = app.config["IDP_FIRMA_MAX_PDF_BYTES"]
    pdf = make_pdf(filler_bytes=limit - 2000)
    assert len(pdf) <= limit
    assert ask_pdf(rp, client, pdf).status_code == 201


def test_a_multipart_request_without_a_file_is_invalid_request(rp, client):
    refused = rp.post("/api/signature/v1/requests", data={"redirect_uri": client.redirect_uri, "state": "s"},
                      content_type="multipart/form-data", headers=basic(client.client_id, client.secret))
    assert refused.status_code == 400 and "file" in refused.get_json()["error_description"]


def test_an_expired_request_cannot_be_signed_even_with_the_code_page_open(browser, rp, client, person, app):
    from idp.clock import clock

    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    page = ask_for_the_code(browser, path)
    clock.advance(seconds=app.config["IDP_FIRMA_REQUEST_TTL"])
    late = submit(browser, page, "/signature/otp", otp=latest_code(sms_file_of(browser)))
    assert late.status_code in (400, 404)
    assert status_of(rp, client, path.rsplit("/", 1)[1]).get_json()["status"] == "expired"
    assert events(EventTag.SIGNATURE_SIGNED) == []


def test_a_signature_the_service_cannot_make_now_is_a_clear_page_and_the_request_stays_pending(
        browser, rp, client, person, tmp_path):
    from tests.conftest import build_app

    first = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    returned(sign_with_sms(browser, first))  # the citizen's key exists, sealed
    other_seal = build_app(tmp_path, IDP_FIRMA_SEAL_SECRET="another deployment's seal").test_client()
    second = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(other_seal, person)
    unavailable = sign_with_sms(other_seal, second)
    assert unavailable.status_code == 503 and shows_message(unavailable, "firma_unavailable")
    assert status_of(rp, client, second.rsplit("/", 1)[1]).get_json()["status"] == "pending"
    assert len(events(EventTag.SIGNATURE_SIGNED)) == 1


def test_a_body_far_over_the_limit_is_document_too_large_before_it_is_read(rp, client, app):
    oversized = make_pdf(filler_bytes=app.config["IDP_FIRMA_MAX_PDF_BYTES"] + 200_000)
    refused = ask_pdf(rp, client, oversized)
    assert refused.status_code == 413
    assert refused.get_json()["error"] == "document_too_large"
    assert stored_requests() == 0


def test_signing_again_from_a_reload_shows_the_same_code_page_and_sends_no_other_sms(
        browser, rp, client, person):
    path = sign_path(ask_pdf(rp, client, make_pdf()))
    log_in_to_account(browser, person)
    review = browser.get(path)
    first = submit(browser, review, f"{path}/sign")
    sent = len(read_sms_file(sms_file_of(browser)))
    code = latest_code(sms_file_of(browser))

    again = submit(browser, review, f"{path}/sign")  # "Sign" posted again by a reload

    assert is_sms_page(first, "/signature/otp") and is_sms_page(again, "/signature/otp")
    assert len(read_sms_file(sms_file_of(browser))) == sent
    returned(submit(browser, again, "/signature/otp", otp=code))
    assert len(events(EventTag.SIGNATURE_SIGNED)) == 1
