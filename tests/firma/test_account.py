"""The account page lists the citizen's signatures (when, for whom, which digest) and lets
the citizen sign a PDF of their own and download it, once."""

from __future__ import annotations

import io

from tests.factories import make_citizen
from tests.firma.rp import ask_pdf, returned, sign_path, signature_client, sms_file_of
from tests.firma.support import encrypted_pdf, fetch_published, make_pdf, pyhanko_status
from tests.firma.test_signing import sign_with_sms
from tests.flows.test_account import log_in as log_in_to_account
from tests.support.browser import csrf_token, shows_message, submit


def upload(browser, pdf: bytes, filename: str = "mi-contrato.pdf"):  # type: ignore[no-untyped-def]
    form = browser.get("/signature/own")
    assert form.status_code == 200
    response = browser.post("/signature/own", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(form.get_data(as_text=True)), "file": (io.BytesIO(pdf), filename)})
    response.request.environ["wsgi.input"].close()
    return response


def test_the_account_page_lists_signatures_for_an_rp(browser, rp, person):
    client = signature_client()
    log_in_to_account(browser, person)
    assert "/signature/own" in browser.get("/account").get_data(as_text=True)
    path = sign_path(ask_pdf(rp, client, make_pdf(), filename="permiso.pdf"))
    returned(sign_with_sms(browser, path))
    html = browser.get("/account").get_data(as_text=True)
    section = html.split('id="signatures-heading"')[1].split("</section>")[0]
    assert "Agencia de Pruebas" in section and "permiso.pdf" in section
    assert browser.get(f"{path}").status_code == 404  # decided


def test_a_citizen_signs_a_pdf_of_their_own_and_downloads_it_once(browser, person):
    log_in_to_account(browser, person)
    pdf = make_pdf(filler_bytes=200_000)  # above the usual 64 KB limit of a form
    review = upload(browser, pdf)
    assert review.status_code == 302 and review.headers["Location"].startswith("/signature/")
    path = review.headers["Location"]
    back = sign_with_sms(browser, path)
    assert back.status_code == 302 and back.headers["Location"].startswith("/signature/own/done?")
    done = browser.get(back.headers["Location"])
    assert shows_message(done, "signature_done")
    request_id = path.rsplit("/", 1)[1]
    signed = submit(browser, done, "/signature/own/download", request_id=request_id)
    assert signed.status_code == 200 and signed.mimetype == "application/pdf"
    status = pyhanko_status(signed.get_data(), fetch_published(browser))
    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    again = submit(browser, done, "/signature/own/download", request_id=request_id)
    assert again.status_code == 404
    html = browser.get("/account").get_data(as_text=True)
    assert "mi-contrato.pdf" in html.split('id="signatures-heading"')[1].split("</section>")[0]


def test_an_encrypted_or_other_file_of_ones_own_is_refused_clearly(browser, person):
    log_in_to_account(browser, person)
    for document, key in ((encrypted_pdf(), "firma_pdf_encrypted"), (b"hello", "firma_not_pdf")):
        refused = upload(browser, document)
        assert refused.status_code == 400 and shows_message(refused, key)


def test_another_citizens_own_document_cannot_be_reviewed_or_downloaded(app, browser, person):
    log_in_to_account(browser, person)
    path = upload(browser, make_pdf()).headers["Location"]
    other = app.test_client()
    log_in_to_account(other, make_citizen())
    assert other.get(path).status_code == 403
    assert sms_file_of(browser).exists()
