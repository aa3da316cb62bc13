"""The relying parties' signature API, ``/api/signature/v1`` (described by ``openapi.json``).

A client authorised for Cl@ve Firma (``idp client create|update --signature``) and
authenticated as at the token endpoint (``idp.oidc.client_auth.authenticate``, the one
door to the protocol) submits a PDF, or the SHA-256 of a document, with the redirect URI
the citizen's browser returns to; the citizen decides on the pages of
``idp.flows.signature``; the client reads the status and downloads the result once.

Every refusal is JSON ``{"error", "error_description"}`` with an RFC 6749-style code,
audited once, and changes nothing: all checks come before the request is stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, url_for
from werkzeug.exceptions import HTTPException

from idp import ratelimit, transport
from idp.audit import EventTag, record_event
from idp.extensions import csrf
from idp.firma import signature_requests as stored
from idp.firma import submission
from idp.firma.signature_requests import SignatureRequest, Status
from idp.oidc import client_auth
from idp.unit_of_work import abandon

blueprint = Blueprint("signature_api", __name__, url_prefix="/api/signature/v1")
csrf.exempt(blueprint)
transport.require_https(blueprint)  # client secrets and documents; not openapi.json
OPENAPI = Path(__file__).with_name("openapi.json")
ENDPOINT = "signature"  # as client authentication names it in the audit trail
MEDIA_TYPES = {stored.Kind.PDF: "application/pdf",
               stored.Kind.DIGEST: "application/pkcs7-signature"}


class Refused(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(error)
        self.status, self.error, self.description = status, error, description


@blueprint.errorhandler(Refused)
def _refused(refused: Refused):  # type: ignore[no-untyped-def]
    # Not rolled back: a refusal carries its audit event and rate count, and has changed
    # nothing else (every check comes before the request is stored).
    return jsonify(error=refused.error, error_description=refused.description), refused.status


@blueprint.errorhandler(OAuth2Error)
def _client_refused(error: OAuth2Error):  # type: ignore[no-untyped-def]
    # As at the token endpoint: the failure's count and audit event are committed.
    response = jsonify(error=error.error, error_description=error.description)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response, error.status_code


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException):  # type: ignore[no-untyped-def]
    abandon()
    if error.code == 413:
        return jsonify(error="document_too_large", error_description=submission.too_large()), 413
    return jsonify(error=(error.name or "error").lower().replace(" ", "_"),
                   error_description=error.description), error.code or 500


def _authorised_client():  # type: ignore[no-untyped-def]
    client = client_auth.authenticate(ENDPOINT)
    if not client.signature_enabled:
        record_event(EventTag.SIGNATURE_REQUEST_REFUSED, client_id=client.client_id,
                     error="unauthorized_client")
        raise Refused(403, "unauthorized_client",
                      "This client is not authorised to request signatures (Cl@ve Firma).")
    return client


@blueprint.get("/openapi.json")
@transport.any_transport
def openapi():  # type: ignore[no-untyped-def]
    return Response(OPENAPI.read_bytes(), mimetype="application/json")


@blueprint.post("/requests")
def create_request():  # type: ignore[no-untyped-def]
    client = _authorised_client()
    if not ratelimit.guard("signature", client=client.client_id).reserve():
        raise Refused(429, "rate_limited", "Too many signature requests; try again later.")
    try:
        submitted = submission.read(client.redirect_uris)
    except submission.Invalid as invalid:
        record_event(EventTag.SIGNATURE_REQUEST_REFUSED, client_id=client.client_id,
                     error=invalid.error, problem=invalid.description)
        raise Refused(invalid.status, invalid.error, invalid.description) from invalid
    signature_request = stored.create(
        client_id=client.client_id, client_name=client.name, redirect_uri=submitted.redirect_uri,
        state=submitted.state, described=submitted.described,
        signer_document=submitted.signer_document, reason=submitted.reason)
    record_event(EventTag.SIGNATURE_REQUESTED, client_id=client.client_id,
                 request_id=signature_request.id, kind=signature_request.kind,
                 sha256=signature_request.sha256, signer_named=submitted.signer_document is not None)
    issuer = current_app.config["IDP_ISSUER"]
    response = jsonify(
        request_id=signature_request.id,
        sign_url=issuer + url_for("signature.review", request_id=signature_request.id),
        expires_at=_iso(signature_request))
    response.headers["Cache-Control"] = "no-store"
    return response, 201


def _own_request(request_id: str) -> tuple[Any, SignatureRequest]:
    client = _authorised_client()
    found = stored.find(request_id)
    if found is None or found.client_id != client.client_id:
        # Another client's request is as unknown as one that never was.
        raise Refused(404, "not_found", "No such signature request (unknown, or purged).")
    return client, found


@blueprint.get("/requests/<request_id>")
def status(request_id: str):  # type: ignore[no-untyped-def]
    _, found = _own_request(request_id)
    current = found.current_status
    body: dict[str, Any] = {"request_id": found.id, "status": current.value, "kind": found.kind,
                            "sha256": found.sha256, "expires_at": _iso(found)}
    if current == Status.SIGNED:
        body["downloaded"] = found.downloaded_at is not None
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/requests/<request_id>/document")
def download(request_id: str):  # type: ignore[no-untyped-def]
    client, found = _own_request(request_id)
    current = found.current_status
    if current != Status.SIGNED:
        record_event(EventTag.SIGNATURE_DOWNLOAD_REFUSED, client_id=client.client_id,
                     request_id=found.id, status=current.value)
        raise Refused(409, "not_signed", f"The request is {current.value}: there is nothing to download.")
    signed = stored.take_signature(found)
    if signed is None:
        record_event(EventTag.SIGNATURE_DOWNLOAD_REFUSED, client_id=client.client_id,
                     request_id=found.id, status="downloaded")
        raise Refused(410, "already_downloaded",
                      "The signed document was already downloaded; it is kept for one download only.")
    record_event(EventTag.SIGNATURE_DOWNLOADED, client_id=client.client_id, request_id=found.id)
    kind = stored.Kind(found.kind)
    extension = "pdf" if kind == stored.Kind.PDF else "p7s"
    response = Response(signed, mimetype=MEDIA_TYPES[kind])
    response.headers["Content-Disposition"] = f'attachment; filename="{found.id}.{extension}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _iso(signature_request: SignatureRequest) -> str:
    return signature_request.expires_at.isoformat(timespec="seconds") + "Z"
