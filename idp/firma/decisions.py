"""The citizen's decision on a signature request: sign it with their own key, or refuse.

Called by the citizen's pages once the citizen has authorised *this* document with a fresh
second factor (an SMS code sent for it, or an approval in the Cl@ve app naming it). The
decision is taken once (``signature_requests.mark_signed`` / ``mark_refused``: one
conditional UPDATE), by the signer the relying party named if it named one.
"""

from __future__ import annotations

from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.firma import signature_requests as stored
from idp.firma.identity import signer_identity
from idp.firma.signature_requests import SignatureRequest, Status
from idp.firma.signer import DocumentRefused, sign_digest, sign_pdf
from idp.models import AuditEvent, Citizen

RECENT_SIGNATURES = 20


def decidable(signature_request: SignatureRequest | None, citizen: Citizen) -> bool:
    return (signature_request is not None and signature_request.current_status == Status.PENDING
            and stored.may_decide(signature_request, citizen))


def sign(signature_request: SignatureRequest, citizen: Citizen, *, method: str) -> bool:
    """Sign with the citizen's key and keep the result for the RP's one download; False
    (nothing kept) when the request cannot be decided by this citizen now."""
    if not decidable(signature_request, citizen):
        return False
    identity = signer_identity(citizen)
    try:
        if signature_request.is_pdf:
            signed = sign_pdf(identity, signature_request.document or b"",
                              reason=signature_request.reason or "")
        else:
            signed = sign_digest(identity, bytes.fromhex(signature_request.sha256),
                                 name=signature_request.name)
    except DocumentRefused:
        return False  # inspected when it came; the core may still refuse what it cannot sign
    if not stored.mark_signed(signature_request, citizen, signed):
        return False  # decided meanwhile by a parallel request
    record_event(EventTag.SIGNATURE_SIGNED, citizen, client_id=signature_request.client_id or None,
                 request_id=signature_request.id, client_name=signature_request.client_name,
                 name=signature_request.name, sha256=signature_request.sha256, method=method)
    return True


def refuse(signature_request: SignatureRequest, citizen: Citizen) -> bool:
    if not decidable(signature_request, citizen) or not stored.mark_refused(signature_request, citizen):
        return False
    record_event(EventTag.SIGNATURE_DECLINED, citizen, client_id=signature_request.client_id or None,
                 request_id=signature_request.id, client_name=signature_request.client_name,
                 name=signature_request.name, sha256=signature_request.sha256)
    return True


def signatures_of(citizen: Citizen) -> list[AuditEvent]:
    """The citizen's latest signatures, from the audit trail (the requests themselves are
    purged): when, for whom, which document and digest."""
    return list(db.session.scalars(
        db.select(AuditEvent)
        .where(AuditEvent.citizen_id == citizen.id, AuditEvent.tag == EventTag.SIGNATURE_SIGNED.value)
        .order_by(AuditEvent.id.desc()).limit(RECENT_SIGNATURES)))
