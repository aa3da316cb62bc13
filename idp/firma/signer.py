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

Both refuse what ``inspect_pdf`` refuses (a damaged PDF before the citizen's key is opened
or made), make the citizen's key and certificate on their first signature
(``idp.firma.pki``), and run in the caller's unit of work: they flush, never commit. A
signature that fails once the key was made (or renewed) unmakes it, in a savepoint: a
refusal is committed, a key made for nothing is not. They
raise ``SigningUnavailable`` ("firma_unavailable") when the time-stamping service cannot be
reached or the deployment cannot open the citizen's key (another ``IDP_FIRMA_SEAL_SECRET``):
nothing was signed, and the caller answers that the service is unavailable (503). They do
not check who may sign: the caller has authorised this signature by this citizen first.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import current_app

from idp.clock import clock
from idp.connections import savepoint
from idp.extensions import db
from idp.firma import pki, sealing
from idp.firma.ca import utc
from idp.firma.identity import SignerIdentity

# pyHanko is imported by the functions that use it, not with the app: about 14 MB that a
# worker pays only once it inspects or signs a document (issue 14 keeps workers ≤ 120 MB).
if TYPE_CHECKING:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import timestamps

    from idp.firma.cades import CitizenSigner

log = logging.getLogger("idp.firma")
PDF_HEADER = b"%PDF-"
MAX_PAGE_TREE_NODES = 100_000
DIGEST_BYTES = 32
TSA_TIMEOUT = 10


class DocumentRefused(Exception):
    """The document cannot be signed; ``message_key`` (with ``params``) says why."""

    def __init__(self, message_key: str, **params: object) -> None:
        super().__init__(message_key)
        self.message_key = message_key
        self.params = params


class SigningUnavailable(Exception):
    """Nothing was signed, through no fault of the document or the citizen."""

    message_key = "firma_unavailable"


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
    from pyhanko.pdf_utils.reader import PdfFileReader

    with _malformed_refused():
        reader = PdfFileReader(BytesIO(data), strict=True)
        if reader.encrypted:
            raise DocumentRefused("firma_pdf_encrypted")
        pages = _count_pages(reader.root)
        _read_every_object(reader)
    return PdfFacts(size=len(data), page_count=pages, sha256=hashlib.sha256(data).hexdigest())


def sign_pdf(identity: SignerIdentity, data: bytes, *, reason: str | None = None) -> bytes:
    inspect_pdf(data)
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    with _malformed_refused():  # before the citizen's key is opened (or made)
        writer = IncrementalPdfFileWriter(BytesIO(data), strict=True)
        meta = signers.PdfSignatureMetadata(
            field_name=_free_field_name(writer), reason=reason or None, name=identity.full_name,
            md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES)
    with _unavailable_service(), _malformed_refused(), _citizen_signer(identity) as signer:
        signed = signers.sign_pdf(writer, meta, signer=signer, timestamper=_timestamper())
    return signed.getvalue()


@contextmanager
def _malformed_refused() -> Iterator[None]:
    """What a damaged document makes pyHanko raise (found by tests/firma/test_pdf_*fuzz.py)
    becomes a refusal of the document. pyHanko checks some of a file's structure with
    ``assert`` (an xref stream's /Type): a failed one is a damaged document too."""
    from pyhanko.pdf_utils.misc import PdfError

    try:
        yield
    except DocumentRefused:
        raise
    except (PdfError, KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError,
            ArithmeticError, NotImplementedError, AssertionError, zlib.error) as error:
        raise DocumentRefused("firma_pdf_malformed") from error


def _read_every_object(reader: PdfFileReader) -> None:
    """Parse every object the cross-reference tables name: signing rewrites some of them
    (the catalogue, the document information, a page, the form), and a damaged one must
    be refused here, before the citizen's key is opened or made for it."""
    xrefs = reader.xrefs
    for revision in range(xrefs.total_revisions):
        for reference in xrefs.explicit_refs_in_revision(revision):
            reader.get_object(reference)


def _count_pages(catalogue: generic.DictionaryObject) -> int:
    """The pages a reader would show: the leaves of the page tree, walked without trusting
    its /Count (a damaged or hostile tree may lie, loop or lack a node)."""
    from pyhanko.pdf_utils import generic

    pending, seen, pages = [catalogue.raw_get("/Pages")], set(), 0
    while pending:
        entry = pending.pop()
        if isinstance(entry, generic.IndirectObject):
            if entry.reference in seen or len(seen) > MAX_PAGE_TREE_NODES:
                raise DocumentRefused("firma_pdf_malformed")
            seen.add(entry.reference)
        node = entry.get_object()
        if node["/Type"] == "/Page":
            pages += 1
        elif node["/Type"] == "/Pages":
            kids = node["/Kids"]
            pending.extend(kids.raw_get(index) for index in range(len(kids)))
        else:
            raise DocumentRefused("firma_pdf_malformed")
    if pages < 1:
        raise DocumentRefused("firma_pdf_malformed")
    return pages


def sign_digest(identity: SignerIdentity, digest: bytes, *, name: str) -> bytes:
    if len(digest) != DIGEST_BYTES:
        raise DocumentRefused("firma_digest_invalid")
    with _unavailable_service(), _citizen_signer(identity, signing_time=utc(clock.now()),
                                                 content_name=name) as signer:
        content = asyncio.run(signer.async_sign(digest, "sha256", use_pades=True, is_pdf_sig=False,
                                                timestamper=_timestamper()))
    return content.dump()


@contextmanager
def _citizen_signer(identity: SignerIdentity, **attributes: Any) -> Iterator[CitizenSigner]:
    """A signer with the citizen's key, for the signature made inside the block. A key made
    (or renewed) for it is unmade if the signature then fails, in a savepoint: a document
    can parse yet fail while pyHanko signs it (a catalogue whose /Pages names a page), a
    time-stamping service can fail, and the request still commits its refusal. A live key
    needs no savepoint (two statements on PostgreSQL that a signature would pay for
    nothing)."""
    credential = pki.live_credential(identity)
    if credential is not None:
        yield _signer(credential, **attributes)
        return
    with savepoint(db.session):
        yield _signer(pki.signing_credential(identity), **attributes)


@contextmanager
def _unavailable_service() -> Iterator[None]:
    try:
        yield
    except OSError as error:  # pyHanko's TimestampRequestError: the TSA did not answer well
        log.warning("time-stamping service unavailable: %s", error)
        raise SigningUnavailable from error
    except sealing.KeyUnavailable as error:
        log.error("a citizen's signing key cannot be opened: is IDP_FIRMA_SEAL_SECRET "
                  "this deployment's?")
        raise SigningUnavailable from error


def _signer(credential: pki.Credential, **attributes: Any) -> CitizenSigner:
    from idp.firma.cades import citizen_signer

    # The key was made here and has just passed AES-GCM's authentication: it is the key we
    # generated, so the RSA consistency check (about 100 ms for RSA-3072) proves nothing.
    key = serialization.load_der_private_key(credential.private_key_der, password=None,
                                             unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TypeError("a Cl@ve Firma key is EC or RSA")
    der = serialization.Encoding.DER
    return citizen_signer(key, credential.certificate.public_bytes(der),
                          credential.ca_certificate.public_bytes(der), **attributes)


def _timestamper() -> timestamps.TimeStamper | None:
    from pyhanko.sign import timestamps

    url = current_app.config["IDP_TSA_URL"]
    return timestamps.HTTPTimeStamper(url, timeout=TSA_TIMEOUT) if url else None


def _free_field_name(writer: IncrementalPdfFileWriter) -> str:
    from pyhanko.sign import fields

    taken = {name for name, _, _ in fields.enumerate_sig_fields(writer)}
    return next(f"ClaveFirma{n}" for n in range(1, len(taken) + 2) if f"ClaveFirma{n}" not in taken)
