"""Cl@ve Firma's figures: signatures per second per core and server CPU per signature, for
a 1 MB PDF (PAdES) and for a digest (CAdES), beside the raw signing limit of the same key
(P-256 ECDSA, RSA-3072 PKCS#1 v1.5) on one core.

Measured in process on this thread's CPU time (``time.thread_time``), which neighbours on
a busy machine do not change: each signature is what the signature API asks of the signing
core, one unit of work against SQLite (the citizen's certificate row read, their key
unsealed, the PDF parsed, hashed and written, the CMS made). The HTTP request around it
(an upload of the PDF, a download of the result) is not counted. The first signature of
each citizen, which makes their key and certificate, is measured apart.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.writer import PdfFileWriter

KEY_TYPES = ("P-256", "RSA-3072")
PDF_BYTES = 1024 * 1024


def one_megabyte_pdf() -> bytes:
    """A valid one-page PDF of 1 MiB (its page content padded)."""
    writer = PdfFileWriter()
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/MediaBox"): generic.ArrayObject(
            [generic.NumberObject(n) for n in (0, 0, 595, 842)]),
    })
    page[generic.NameObject("/Contents")] = writer.add_object(
        generic.StreamObject(stream_data=b"% " + b"x" * (PDF_BYTES - 1024) + b"\n"))
    writer.insert_page(page)
    out = BytesIO()
    writer.write(out)
    return out.getvalue() + b"\n" * max(0, PDF_BYTES - len(out.getvalue()))


def cpu_ms(operation: Callable[[], object], seconds: float, minimum: int = 3) -> float:
    """CPU milliseconds of one ``operation`` on this thread (after one warm-up call)."""
    operation()
    done, start_cpu, deadline = 0, time.thread_time(), time.perf_counter() + seconds
    while done < minimum or time.perf_counter() < deadline:
        operation()
        done += 1
    return 1000 * (time.thread_time() - start_cpu) / done


def raw_signing_ms(key_type: str, seconds: float) -> float:
    """One bare signature with the key type's private key: the limit no signing service passes."""
    message = b"x" * 1200  # about the size of the signed attributes of a CMS signature
    if key_type == "P-256":
        ec_key = ec.generate_private_key(ec.SECP256R1())
        return cpu_ms(lambda: ec_key.sign(message, ec.ECDSA(hashes.SHA256())), seconds)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    return cpu_ms(lambda: rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256()), seconds)


def _row(ms: float, limit_ms: float) -> dict[str, float]:
    return {"cpu_ms": round(ms, 2), "per_core": round(1000 / ms, 1),
            "fraction_of_limit": round(limit_ms / ms, 4)}


def _new_signer(number: int) -> Any:
    """A registered citizen's ``SignerIdentity`` (in its own unit of work)."""
    from idp import documents
    from idp.citizens import register
    from idp.firma.identity import signer_identity
    from idp.unit_of_work import transaction

    with transaction():
        document = documents.parse_document(f"{number:08d}{documents.control_letter(number)}")
        citizen = register(document, given_name="Carmen", first_surname="Ruiz", second_surname="Gil",
                           email="carmen@example.org", phone="+34600000000", contrast_data="01012030")
        return signer_identity(citizen.citizen)


def _figures(key_type: str, identity: Any, pdf: bytes, seconds: float) -> dict[str, Any]:
    from idp.firma.signer import sign_digest, sign_pdf
    from idp.unit_of_work import transaction

    digest = hashlib.sha256(pdf).digest()

    def pdf_signature() -> None:
        with transaction():
            sign_pdf(identity, pdf)

    def digest_signature() -> None:
        with transaction():
            sign_digest(identity, digest, name="bench")

    start = time.thread_time()
    digest_signature()  # the first: makes the citizen's key and certificate
    first_ms = 1000 * (time.thread_time() - start)
    limit = raw_signing_ms(key_type, seconds)
    return {"raw_signature": {"cpu_ms": round(limit, 4), "per_core": round(1000 / limit, 1)},
            "pdf_1mb": _row(cpu_ms(pdf_signature, seconds), limit),
            "digest": _row(cpu_ms(digest_signature, seconds), limit),
            "first_signature_cpu_ms": round(first_ms, 1)}


def measure(seconds: float, log: Callable[[str], None] = print) -> dict[str, Any]:
    from idp import create_app
    from idp.database import upgrade
    from idp.extensions import db
    from idp.firma.ca import ensure_ca

    pdf = one_megabyte_pdf()
    results: dict[str, Any] = {"pdf_bytes": len(pdf), "seconds_each": seconds}
    with tempfile.TemporaryDirectory(prefix="bench-firma-") as work:
        base = Path(work)
        ensure_ca(base / "keys")
        app = create_app(IDP_DATABASE_URL=f"sqlite:///{base / 'firma.sqlite3'}",
                         IDP_KEYS_DIR=str(base / "keys"), IDP_SECRET_KEY=secrets.token_urlsafe(32))
        logging.getLogger("idp").setLevel(logging.WARNING)  # an audit line per first signature
        with app.test_request_context():
            upgrade(app)
            for number, key_type in enumerate(KEY_TYPES, start=20_000_000):
                app.config["IDP_FIRMA_KEY_TYPE"] = key_type
                results[key_type] = _figures(key_type, _new_signer(number), pdf, seconds)
                log(f"firma {key_type}: {results[key_type]}")
            db.engine.dispose()
    return results
