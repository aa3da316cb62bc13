"""What the Cl@ve Firma tests share: PDFs made on the spot (no binary fixtures), and the
independent validators — pyHanko's, poppler's ``pdfsig`` with the CA in an NSS database,
and ``openssl cms`` — each given only the CA certificate (and the CRL) the IdP publishes."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from flask.testing import FlaskClient
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from idp.firma.identity import SignerIdentity, signer_identity
from tests.factories import make_citizen


def make_pdf(*, pages: int = 1, filler_bytes: int = 0) -> bytes:
    """A valid PDF of ``pages`` blank A4 pages; ``filler_bytes`` of page content make it
    as large as a test needs."""
    writer = PdfFileWriter()
    for number in range(pages):
        page = generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
        })
        if filler_bytes and number == 0:
            stream = generic.StreamObject(stream_data=b"% " + b"x" * filler_bytes + b"\n")
            page[generic.NameObject("/Contents")] = writer.add_object(stream)
        writer.insert_page(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_of_size(size: int) -> bytes:
    """A valid one-page PDF of exactly ``size`` bytes (padded with blank lines at its end,
    which readers skip)."""
    probe = size // 2
    overhead = len(make_pdf(filler_bytes=probe)) - probe + 16  # offsets grow a digit or two
    data = make_pdf(filler_bytes=size - overhead)
    assert len(data) <= size
    return data + b"\n" * (size - len(data))


def encrypted_pdf() -> bytes:
    writer = PdfFileWriter()
    writer.insert_page(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, 595, 842)])}))
    writer.encrypt("owner-secret", "user-secret")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def new_signer() -> SignerIdentity:
    return signer_identity(make_citizen().citizen)


@dataclass(frozen=True)
class Published:
    """What the IdP publishes for validators, fetched over HTTP as a validator would."""

    ca_der: bytes
    crl_der: bytes

    @property
    def ca(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.ca_der)


def fetch_published(browser: FlaskClient) -> Published:
    ca, crl = browser.get("/firma/ca.crt"), browser.get("/firma/crl")
    assert ca.status_code == 200 and crl.status_code == 200
    return Published(ca.get_data(), crl.get_data())


def pyhanko_status(signed: bytes, published: Published, *,
                   check_revocation: bool = False) -> PdfSignatureStatus:
    """pyHanko's verdict on the one signature of ``signed``, trusting only the CA; with
    ``check_revocation`` the CRL is required (and fed: nothing is fetched)."""
    reader = PdfFileReader(BytesIO(signed))
    [signature] = reader.embedded_signatures
    context = ValidationContext(
        trust_roots=[published.ca], allow_fetching=False,
        crls=[published.crl_der] if check_revocation else None,
        revocation_mode="require" if check_revocation else "soft-fail")
    return validate_pdf_signature(signature, context)


def nss_database(directory: Path, ca_der: bytes) -> Path:
    """An NSS database trusting the CA for signatures, as ``pdfsig`` reads it."""
    directory.mkdir()
    (directory / "ca.der").write_bytes(ca_der)
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{directory}", "-n", "Cl@ve Firma CA",
                    "-t", "CT,C,C", "-i", str(directory / "ca.der")], check=True)
    return directory


def pdfsig(pdf: Path, nss: Path) -> str:
    """``pdfsig``'s report (it exits non-zero for an invalid signature: the text says why)."""
    result = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True,
                            text=True, timeout=60)
    return result.stdout + result.stderr


def openssl_cms_verify(signature: Path, content: Path, ca_pem: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER",
                           "-in", str(signature), "-content", str(content), "-CAfile", str(ca_pem),
                           "-out", "/dev/null"], capture_output=True, text=True, timeout=60)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()
