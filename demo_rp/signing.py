"""Cl@ve Firma from the RP's side: a sample PDF sent to ``/api/signature/v1``, and what
came back validated by pyHanko against the CA certificate the IdP publishes
(``/firma/ca.crt``), as any validator given only that certificate would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import requests
from asn1crypto import x509 as asn1_x509
from flask_babel import gettext as _
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from .oidc import HTTP_TIMEOUT_SECONDS, ProviderProblem, talking_to_provider
from .settings import DemoSettings

API = "/api/signature/v1"


def sample_pdf(today: str | None = None) -> bytes:
    """A one-page PDF written by hand (objects, cross-reference table, trailer): the sample
    a citizen is asked to sign."""
    day = today or datetime.now(UTC).date().isoformat()
    text = f"BT /F1 16 Tf 72 770 Td (Ayuntamiento de Ejemplo - solicitud de ejemplo) Tj " \
           f"0 -28 Td /F1 11 Tf (Documento de prueba para Cl@ve Firma, {day}.) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _auth(settings: DemoSettings) -> tuple[str, str]:
    return settings.client_id, settings.client_secret


def _json(response: requests.Response) -> dict[str, Any]:
    data = response.json()
    if not response.ok:
        raise ProviderProblem(502, _("Signature not completed"), _("Cl@ve Firma refused the request."),
                              f"{data.get('error')}: {data.get('error_description')}")
    return data


def request_signature(settings: DemoSettings, pdf: bytes, state: str, reason: str) -> dict[str, Any]:
    """``{request_id, sign_url, expires_at}`` of a new request for ``pdf``."""
    with talking_to_provider(_("ask for the signature")):
        return _json(requests.post(
            settings.issuer + API + "/requests", auth=_auth(settings), timeout=HTTP_TIMEOUT_SECONDS,
            files={"file": ("solicitud-de-ejemplo.pdf", pdf, "application/pdf")},
            data={"redirect_uri": settings.signed_uri, "state": state, "reason": reason}))


def status(settings: DemoSettings, request_id: str) -> str:
    with talking_to_provider(_("fetch the signed document")):
        return _json(requests.get(f"{settings.issuer}{API}/requests/{request_id}",
                                  auth=_auth(settings), timeout=HTTP_TIMEOUT_SECONDS))["status"]


def signed_document(settings: DemoSettings, request_id: str) -> bytes:
    with talking_to_provider(_("fetch the signed document")):
        response = requests.get(f"{settings.issuer}{API}/requests/{request_id}/document",
                                auth=_auth(settings), timeout=HTTP_TIMEOUT_SECONDS)
        if not response.ok:
            _json(response)
        return response.content


def ca_certificate(settings: DemoSettings) -> bytes:
    with talking_to_provider(_("fetch the signed document")):
        response = requests.get(settings.issuer + "/firma/ca.crt", timeout=HTTP_TIMEOUT_SECONDS)
        response.raise_for_status()
        return response.content


@dataclass(frozen=True)
class Validation:
    intact: bool
    valid: bool
    trusted: bool
    signer: str
    signed_at: str
    size: int

    @property
    def accepted(self) -> bool:
        return self.intact and self.valid and self.trusted


def validate(signed: bytes, ca_der: bytes) -> Validation:
    """pyHanko's verdict on the document's one signature, trusting only the IdP's CA."""
    [signature] = PdfFileReader(BytesIO(signed)).embedded_signatures
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(ca_der)],
                                allow_fetching=False, revocation_mode="soft-fail")
    verdict = validate_pdf_signature(signature, context)
    signed_at = verdict.signer_reported_dt
    return Validation(intact=verdict.intact, valid=verdict.valid, trusted=verdict.trusted,
                      signer=verdict.signing_cert.subject.human_friendly,
                      signed_at=signed_at.isoformat(timespec="seconds") if signed_at else "",
                      size=len(signed))
