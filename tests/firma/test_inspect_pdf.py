"""``inspect_pdf`` tells what the citizen is about to sign, or refuses, with a translated
message, what cannot be signed; ``sign_pdf`` refuses the same documents the same way."""

from __future__ import annotations

import hashlib

import pytest

from idp.audit import EventTag
from idp.extensions import db
from idp.firma.models import SigningCertificate
from idp.firma.signer import DocumentRefused, PdfFacts, inspect_pdf, sign_pdf
from idp.messages import MESSAGES, message
from idp.models import AuditEvent
from tests.firma.support import encrypted_pdf, make_pdf, new_signer, pdf_of_size

TEN_MB = 10 * 1024 * 1024


def refusal(data: bytes) -> str:
    with pytest.raises(DocumentRefused) as refused:
        inspect_pdf(data)
    assert refused.value.message_key in MESSAGES
    return refused.value.message_key


def test_the_facts_are_the_size_page_count_and_sha256_of_the_exact_bytes(app):
    data = make_pdf(pages=3)

    assert inspect_pdf(data) == PdfFacts(size=len(data), page_count=3,
                                         sha256=hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("data", [b"", b"hello, world", b"PK\x03\x04" + b"\x00" * 100,
                                  b"<html><body>%PDF-</body></html>" + b" " * 1024])
def test_what_is_not_a_pdf_is_refused(app, data):
    assert refusal(data) == "firma_not_pdf"


def test_an_encrypted_pdf_is_refused(app):
    assert refusal(encrypted_pdf()) == "firma_pdf_encrypted"


@pytest.mark.parametrize("damage", [
    lambda pdf: pdf[: len(pdf) // 2],  # cut short: no cross-reference table
    lambda pdf: pdf.replace(b"/Pages", b"/Pagez"),  # no page tree
    lambda pdf: pdf.replace(b"xref", b"xxxx"),
    lambda pdf: b"%PDF-1.7\n" + b"\xff" * 2000,
], ids=["truncated", "no-page-tree", "no-xref", "garbage"])
def test_a_malformed_pdf_is_refused(app, damage):
    assert refusal(damage(make_pdf())) == "firma_pdf_malformed"


def test_a_pdf_over_ten_megabytes_is_refused_and_one_of_ten_is_accepted(app):
    at_limit = pdf_of_size(TEN_MB)

    assert inspect_pdf(at_limit).size == TEN_MB
    assert refusal(at_limit + b"\n") == "firma_pdf_too_large"
    assert message("firma_pdf_too_large", megabytes=10).endswith("10 MB.")


def test_sign_pdf_refuses_the_same_documents_and_makes_no_key_for_them(app):
    identity = new_signer()
    for data in (b"hello", encrypted_pdf(), make_pdf()[:300]):
        with pytest.raises(DocumentRefused):
            sign_pdf(identity, data)

    assert db.session.scalar(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id)) is None


def test_a_pdf_that_parses_but_fails_while_signed_is_refused_and_its_key_is_unmade(app):
    """Found by test_pdf_fuzz.py: a catalogue whose /Pages names a page, not the page tree.
    The citizen's key was made before pyHanko failed; the refusal commits, the key must not."""
    identity = new_signer()
    pages_names_a_page = make_pdf(pages=2).replace(b"/Pages 2 0 R", b"/Pages 3 0 R", 1)

    with pytest.raises(DocumentRefused) as refused:
        sign_pdf(identity, pages_names_a_page)
    db.session.commit()

    assert refused.value.message_key == "firma_pdf_malformed"
    assert db.session.scalar(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id)) is None
    assert not db.session.scalar(db.select(AuditEvent).filter_by(
        tag=EventTag.FIRMA_CERTIFICATE_ISSUED.value, citizen_id=identity.citizen_id))
