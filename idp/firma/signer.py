"""What a citizen signs: a PDF (PAdES) or the SHA-256 digest of any document (CAdES).

The contract the signature API and pages rely on:

* ``inspect_pdf(data)`` → ``PdfFacts`` (size, page count, SHA-256) of a PDF that can be
  signed, or ``DocumentRefused(message_key)`` — not a PDF, encrypted, malformed, larger
  than ``IDP_FIRMA_MAX_PDF_BYTES`` — whose key is a translated message of
  ``idp.messages``. Nothing is stored or changed.
* ``sign_pdf(identity, data, reason=…)`` → the PDF with a PAdES baseline B-B signature
  appended as an incremental update (B-T when ``IDP_TSA_URL`` names an RFC 3161
  time-stamping service), made with the citizen's own key; the certificate chain is in it.
* ``sign_digest(identity, digest, name=…)`` → a detached CMS ``SignedData`` (DER,
  ``application/pkcs7-signature``; CAdES-B-B, B-T with a TSA) over a 32-byte SHA-256
  digest, with the chain and ``name`` as its content-hints description.

Both make the citizen's key and certificate on their first signature (``idp.firma.pki``)
and run in the caller's unit of work: they flush, never commit. They do not check who may
sign: the caller has authorised this signature by this citizen before calling.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from io import BytesIO

from asn1crypto import cms, core, keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from flask import current_app
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.attributes import CMSAttributeProvider
from pyhanko.sign.signers.pdf_cms import CAdESSignedAttributeProviderSpec, PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore

from idp.clock import clock
from idp.firma import pki
from idp.firma.ca import utc
from idp.firma.identity import SignerIdentity

PDF_HEADER = b"%PDF-"
DIGEST_BYTES = 32
CONTENT_HINTS = "1.2.840.113549.1.9.16.2.4"  # RFC 2634 §2.9, a CAdES optional attribute
TSA_TIMEOUT = 10


class DocumentRefused(Exception):
    """The document cannot be signed; ``message_key`` (with ``params``) says why."""

    def __init__(self, message_key: str, **params: object) -> None:
        super().__init__(message_key)
        self.message_key = message_key
        self.params = params


@dataclass(frozen=True)
class PdfFacts:
    size: int
    page_count: int
    sha256: str  # hex


def inspect_pdf(data: bytes) -> PdfFacts:
    limit = current_app.config["IDP_FIRMA_MAX_PDF_BYTES"]
    if len(data) > limit:
        raise DocumentRefused("firma_pdf_too_large", megabytes=limit // (1024 * 1024))
    if not data.startswith(PDF_HEADER):
        raise DocumentRefused("firma_not_pdf")
    try:
        reader = PdfFileReader(BytesIO(data), strict=True)
        if reader.encrypted:
            raise DocumentRefused("firma_pdf_encrypted")
        pages = reader.root["/Pages"]["/Count"]
    except DocumentRefused:
        raise
    except (PdfError, KeyError, TypeError, ValueError, AttributeError, IndexError,
            RecursionError) as error:
        raise DocumentRefused("firma_pdf_malformed") from error
    if not isinstance(pages, int) or pages < 1:
        raise DocumentRefused("firma_pdf_malformed")
    return PdfFacts(size=len(data), page_count=pages, sha256=hashlib.sha256(data).hexdigest())


def sign_pdf(identity: SignerIdentity, data: bytes, *, reason: str | None = None) -> bytes:
    inspect_pdf(data)
    signer = _signer(pki.signing_credential(identity))
    try:
        writer = IncrementalPdfFileWriter(BytesIO(data), strict=True)
        meta = signers.PdfSignatureMetadata(
            field_name=_free_field_name(writer), reason=reason or None, name=identity.full_name,
            md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES)
        signed = signers.sign_pdf(writer, meta, signer=signer, timestamper=_timestamper())
    except PdfError as error:
        raise DocumentRefused("firma_pdf_malformed") from error
    return signed.getvalue()


def sign_digest(identity: SignerIdentity, digest: bytes, *, name: str) -> bytes:
    if len(digest) != DIGEST_BYTES:
        raise DocumentRefused("firma_digest_invalid")
    signer = _signer(pki.signing_credential(identity))
    signer.signed_attr_prov_spec = _CAdESWithHints(
        attr_settings=PdfCMSSignedAttributes(signing_time=utc(clock.now())),
        signing_cert=signer.signing_cert, is_pades=False, timestamper=_timestamper(), name=name)
    content = asyncio.run(signer.async_sign(digest, "sha256", use_pades=True, is_pdf_sig=False,
                                            timestamper=_timestamper()))
    return content.dump()


def _signer(credential: pki.Credential) -> signers.SimpleSigner:
    der = serialization.Encoding.DER
    ca = asn1_x509.Certificate.load(credential.ca_certificate.public_bytes(der))
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(credential.certificate.public_bytes(der)),
        signing_key=keys.PrivateKeyInfo.load(credential.private_key_der),
        cert_registry=SimpleCertificateStore.from_certs([ca]))


def _timestamper() -> timestamps.TimeStamper | None:
    url = current_app.config["IDP_TSA_URL"]
    return timestamps.HTTPTimeStamper(url, timeout=TSA_TIMEOUT) if url else None


def _free_field_name(writer: IncrementalPdfFileWriter) -> str:
    taken = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
    return next(f"ClaveFirma{n}" for n in range(1, len(taken) + 2) if f"ClaveFirma{n}" not in taken)


class _ContentHints(core.Sequence):
    _fields = [("content_description", core.UTF8String, {"optional": True}),
               ("content_type", cms.ContentType)]


@dataclass
class _ContentHintsProvider(CMSAttributeProvider):
    name: str
    attribute_type: str = field(default=CONTENT_HINTS)

    async def build_attr_value(self, dry_run: bool = False) -> _ContentHints:
        return _ContentHints({"content_description": self.name[:256], "content_type": "data"})


class _CAdESWithHints(CAdESSignedAttributeProviderSpec):
    """CAdES-B-B signed attributes, and the document's name as content-hints."""

    def __init__(self, *, name: str, **spec: object) -> None:
        super().__init__(**spec)  # type: ignore[arg-type]
        self.name = name

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str):  # type: ignore[no-untyped-def]
        yield from super().signed_attr_providers(data_digest, digest_algorithm)
        yield _ContentHintsProvider(self.name)
