"""Reading what a relying party submits to ``POST /api/signature/v1/requests``.

Two bodies: ``multipart/form-data`` with the PDF in ``file`` (at most
``IDP_FIRMA_MAX_PDF_BYTES``, read by the signing core, which refuses what is not a plain,
readable PDF), or JSON with the document's
SHA-256 as 64 hexadecimal digits in ``digest`` and its ``name``, for a detached signature.
Both carry ``redirect_uri`` (registered for the client, matched exactly), ``state``, and
optionally ``document`` (the DNI/NIE of the only citizen who may sign) and ``reason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app, request

from idp.documents import InvalidDocument, parse_document
from idp.firma.signature_requests import Described, Kind
from idp.firma.signer import DocumentRefused, inspect_pdf

HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
LIMITS = {"redirect_uri": 2000, "state": 512, "reason": 500, "name": 200, "document": 32}


class Invalid(Exception):
    def __init__(self, description: str, *, error: str = "invalid_request", status: int = 400) -> None:
        super().__init__(description)
        self.description, self.error, self.status = description, error, status


@dataclass(frozen=True)
class Submitted:
    described: Described
    redirect_uri: str
    state: str
    signer_document: str | None
    reason: str | None


def read(redirect_uris: list[str]) -> Submitted:
    """The submission, checked; raises ``Invalid`` with what is wrong."""
    if request.mimetype == "application/json":
        fields = _json_body()
        described = _digest(fields)
    elif request.mimetype == "multipart/form-data":
        fields = request.form.to_dict()
        described = _pdf(fields)
    else:
        raise Invalid("Send multipart/form-data with a PDF in 'file', or JSON with a 'digest'.")
    redirect_uri = _text(fields, "redirect_uri", required=True)
    if redirect_uri not in redirect_uris:
        raise Invalid("redirect_uri is not registered for this client (exact match).")
    return Submitted(described=described, redirect_uri=redirect_uri,
                     state=_text(fields, "state", required=True),
                     signer_document=_signer(fields), reason=_text(fields, "reason") or None)


def _json_body() -> dict[str, Any]:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # deeply nested JSON exhausts the parser
        data = None
    if not isinstance(data, dict):
        raise Invalid("The body is not a JSON object.")
    return data


def _text(fields: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(f"{name} is required.")
        return ""
    if not isinstance(value, str) or len(value) > LIMITS[name] or not value.isprintable():
        raise Invalid(f"{name} must be printable text of at most {LIMITS[name]} characters.")
    return value.strip()


def _signer(fields: dict[str, Any]) -> str | None:
    raw = _text(fields, "document")
    if not raw:
        return None
    try:
        return parse_document(raw).number
    except InvalidDocument as invalid:
        detail = ("its control letter does not match" if invalid.reason == InvalidDocument.CONTROL_LETTER
                  else "it is not a DNI (8 digits and a letter) or NIE (X, Y or Z, 7 digits and a letter)")
        raise Invalid(f"document is not a valid DNI/NIE: {detail}.") from invalid


def _digest(fields: dict[str, Any]) -> Described:
    digest = fields.get("digest")
    if not isinstance(digest, str) or not HEX_SHA256.fullmatch(digest):
        raise Invalid("digest must be a SHA-256 as 64 hexadecimal digits.")
    return Described(Kind.DIGEST, _text(fields, "name", required=True), digest.lower())


# What the signing core's refusals mean, for the RP's developers.
REFUSALS = {"firma_not_pdf": "it is not a PDF", "firma_pdf_encrypted": "it is encrypted",
            "firma_pdf_malformed": "it is damaged or cannot be read"}


def too_large() -> str:
    return f"The document is larger than {current_app.config['IDP_FIRMA_MAX_PDF_BYTES']} bytes."


def _pdf(fields: dict[str, str]) -> Described:
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("file (the PDF to sign) is required.")
    content = upload.stream.read(current_app.config["IDP_FIRMA_MAX_PDF_BYTES"] + 1)
    try:
        facts = inspect_pdf(content)
    except DocumentRefused as refused:
        if refused.message_key == "firma_pdf_too_large":
            raise Invalid(too_large(), error="document_too_large", status=413) from refused
        why = REFUSALS.get(refused.message_key, refused.message_key)
        raise Invalid(f"The document cannot be signed: {why}.", error="invalid_document") from refused
    name = _text(fields, "name") or file_name(upload.filename)
    return Described(Kind.PDF, name, facts.sha256, facts.size, facts.page_count, content)


def file_name(raw: str | None) -> str:
    """The upload's own name, reduced to what a page can show: its last path element."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[: LIMITS["name"]].strip()
    return name or "document.pdf"
