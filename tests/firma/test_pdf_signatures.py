"""A PDF signed by Cl@ve Firma is accepted by independent validators that are given only the
CA certificate the IdP publishes: pyHanko's and poppler's ``pdfsig`` (NSS). One byte changed
after signing is reported by both."""

from __future__ import annotations

import shutil
import subprocess
from io import BytesIO

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from idp.audit import EventTag
from idp.extensions import db
from idp.firma.identity import signer_identity
from idp.firma.models import SigningCertificate
from idp.firma.signer import sign_pdf
from idp.models import AuditEvent
from tests.factories import make_citizen
from tests.firma.support import fetch_published, make_pdf, new_signer, nss_database, pdfsig, pyhanko_status

needs_pdfsig = pytest.mark.skipif(not (shutil.which("pdfsig") and shutil.which("certutil")),
                                  reason="poppler-utils and libnss3-tools (make test installs them)")


def signed_pdf(identity=None, **options) -> bytes:  # type: ignore[no-untyped-def]
    signed = sign_pdf(identity or new_signer(), make_pdf(), **options)
    db.session.commit()  # the caller's unit of work
    return signed


def tampered(signed: bytes) -> bytes:
    """One byte of the signed content changed (in the original document, before the
    signature's incremental update)."""
    at = signed.index(b"/MediaBox") + 1
    return signed[:at] + bytes([signed[at] ^ 0x20]) + signed[at + 1:]


def test_pyhanko_finds_the_signed_pdf_intact_trusted_and_valid_against_the_published_ca(browser):
    signed = signed_pdf(reason="Conformidad con el contrato")

    status = pyhanko_status(signed, fetch_published(browser))

    assert (status.intact, status.valid, status.trusted) == (True, True, True)
    assert status.bottom_line
    assert status.coverage.name == "ENTIRE_FILE"


def test_the_signature_is_pades_with_the_reason_and_the_signers_name(browser):
    identity = new_signer()
    signed = signed_pdf(identity, reason="Conformidad con el contrato")

    [signature] = PdfFileReader(BytesIO(signed)).embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature.sig_object["/Reason"] == "Conformidad con el contrato"
    assert signature.sig_object["/Name"] == identity.full_name


def test_pyhanko_reports_a_byte_changed_after_signing(browser):
    status = pyhanko_status(tampered(signed_pdf()), fetch_published(browser))

    assert not status.intact and not status.bottom_line


@needs_pdfsig
def test_pdfsig_reports_the_signature_valid_and_the_certificate_trusted(browser, tmp_path):
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(signed_pdf())
    nss = nss_database(tmp_path / "nss", fetch_published(browser).ca_der)

    report = pdfsig(pdf, nss)

    assert "Signature is Valid." in report and "Certificate is Trusted." in report, report


@needs_pdfsig
def test_pdfsig_reports_a_byte_changed_after_signing_as_invalid(browser, tmp_path):
    pdf = tmp_path / "tampered.pdf"
    pdf.write_bytes(tampered(signed_pdf()))
    nss = nss_database(tmp_path / "nss", fetch_published(browser).ca_der)

    report = pdfsig(pdf, nss)

    assert "Signature Validation: Digest Mismatch." in report, report
    assert "Signature is Valid." not in report


@needs_pdfsig
def test_pdfsig_does_not_trust_the_signature_without_the_ca(browser, tmp_path):
    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(signed_pdf())
    other_ca = tmp_path / "empty"
    other_ca.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{other_ca}", "--empty-password"], check=True)

    assert "Certificate is Trusted." not in pdfsig(pdf, other_ca)


def test_the_certificate_names_the_citizen_with_both_surnames_and_an_idces_serial_number(browser):
    person = make_citizen(given_name="José Luis", first_surname="Núñez", second_surname="Peña")
    signed = signed_pdf(signer_identity(person.citizen))

    certificate = x509.load_der_x509_certificate(
        pyhanko_status(signed, fetch_published(browser)).signing_cert.dump())
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == f"IDCES-{person.document}"
    assert subject.get_attributes_for_oid(NameOID.GIVEN_NAME)[0].value == "José Luis"
    assert subject.get_attributes_for_oid(NameOID.SURNAME)[0].value == "Núñez Peña"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        f"NÚÑEZ PEÑA JOSÉ LUIS - {person.document}"
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment and not usage.key_cert_sign
    [point] = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert point.full_name[0].value == "http://localhost/firma/crl"
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert validity.days <= 731


def test_the_first_signature_makes_the_key_and_certificate_and_the_next_reuses_them(browser):
    identity = new_signer()

    signed_pdf(identity)
    signed_pdf(identity)

    [row] = db.session.scalars(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id))
    assert row.live_citizen_id == identity.citizen_id and row.key_type == "P-256"
    issued = db.session.scalars(db.select(AuditEvent).filter_by(
        tag=EventTag.FIRMA_CERTIFICATE_ISSUED, citizen_id=identity.citizen_id)).all()
    assert [event.detail["serial"] for event in issued] == [row.serial]


def test_a_pdf_signed_twice_keeps_both_signatures_valid(browser):
    first = sign_pdf(new_signer(), make_pdf())
    both = sign_pdf(new_signer(), first)
    db.session.commit()

    reader = PdfFileReader(BytesIO(both))
    assert [s.field_name for s in reader.embedded_signatures] == ["ClaveFirma1", "ClaveFirma2"]
    published = fetch_published(browser)
    for signature in reader.embedded_signatures:
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[published.ca]))
        assert status.intact and status.valid and status.trusted
