"""Signature requests: what a relying party asked to have signed, until its one download.

A request is created by the RP API (``idp.firma.api``) with the document's bytes (a PDF)
or only its SHA-256 (a detached signature); the citizen's pages decide it (signed or
refused) exactly once, by a conditional ``UPDATE`` that finds it still pending; the RP
downloads the result once, by another that finds it not yet downloaded. The bytes go as
soon as they are no longer needed: the document when the request is decided, the signature
at its download. The row itself lives until ``expires_at`` (``IDP_FIRMA_REQUEST_TTL`` after
it was created, and again after it was signed, for the download) so that the RP can read
its status, and ``idp purge`` then deletes it.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, select, update
from sqlalchemy.orm import Mapped, deferred, mapped_column

from idp import secrets
from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen


class Kind(StrEnum):
    PDF = "pdf"  # PAdES: the signed PDF comes back
    DIGEST = "digest"  # CAdES detached: the CMS signature of a SHA-256 comes back


class Status(StrEnum):
    PENDING = "pending"
    SIGNED = "signed"
    REFUSED = "refused"
    EXPIRED = "expired"


class SignatureRequest(db.Model):
    __tablename__ = "signature_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    # As registered when the request came: what the citizen is told, who asks.
    client_name: Mapped[str] = mapped_column(String(200))
    redirect_uri: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    # The DNI/NIE of the only citizen who may sign, when the RP named one.
    signer_document: Mapped[str | None] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(Integer)
    page_count: Mapped[int | None] = mapped_column(Integer)
    document: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    signature: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING.value)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    downloaded_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def current_status(self) -> Status:
        waiting = self.status == Status.PENDING or (
            self.status == Status.SIGNED and self.downloaded_at is None)
        if waiting and self.expires_at <= clock.now():
            return Status.EXPIRED  # for the citizen, or for the download
        return Status(self.status)

    @property
    def is_pdf(self) -> bool:
        return self.kind == Kind.PDF


@dataclass(frozen=True)
class Described:
    """What the RP said of the document, checked by the API."""

    kind: Kind
    name: str
    sha256: str
    size: int | None = None
    page_count: int | None = None
    content: bytes | None = None


def ttl() -> timedelta:
    return timedelta(seconds=current_app.config["IDP_FIRMA_REQUEST_TTL"])


def create(*, client_id: str, client_name: str, redirect_uri: str, state: str,
           described: Described, signer_document: str | None,
           reason: str | None) -> SignatureRequest:
    now = clock.now()
    signature_request = SignatureRequest(
        id=secrets.random_token(), client_id=client_id, client_name=client_name,
        redirect_uri=redirect_uri, state=state, kind=described.kind.value, name=described.name,
        reason=reason, signer_document=signer_document, sha256=described.sha256,
        size=described.size, page_count=described.page_count, document=described.content,
        status=Status.PENDING.value, created_at=now, expires_at=now + ttl())
    db.session.add(signature_request)
    return signature_request


_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # secrets.random_token's alphabet


def find(request_id: object) -> SignatureRequest | None:
    if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
        return None  # never looked up: no id of ours has other characters
    return db.session.get(SignatureRequest, request_id)


def pending(request_id: object) -> SignatureRequest | None:
    """The request if it can still be decided."""
    found = find(request_id)
    return found if found is not None and found.current_status == Status.PENDING else None


def may_decide(signature_request: SignatureRequest, citizen: Citizen) -> bool:
    """Whether ``citizen`` may sign or refuse it: anyone, unless the RP named the signer or
    another citizen claimed it."""
    expected = signature_request.signer_document
    return expected is None or hmac.compare_digest(expected, citizen.document)


def claim(signature_request: SignatureRequest, citizen: Citizen) -> bool:
    """Whether ``citizen`` may see, sign or refuse it. A request whose RP named no signer
    becomes the first citizen's who opens it, by one conditional UPDATE (of two citizens
    opening it at once, one gets it): a ``sign_url`` that leaks afterwards (a browser's
    history, a forwarded link) shows the document to nobody else."""
    if signature_request.signer_document is None:
        db.session.execute(
            update(SignatureRequest)
            .where(SignatureRequest.id == signature_request.id,
                   SignatureRequest.signer_document.is_(None))
            .values(signer_document=citizen.document)
            .execution_options(synchronize_session=False))
        db.session.expire(signature_request, ["signer_document"])
    return may_decide(signature_request, citizen)


def _decide(signature_request: SignatureRequest, citizen: Citizen, status: Status,
            signature: bytes | None) -> bool:
    """One UPDATE that finds the request still pending and unexpired: a request is decided
    once, whatever parallel requests try. The document's bytes go with the decision."""
    now = clock.now()
    decided = db.session.execute(
        update(SignatureRequest)
        .where(SignatureRequest.id == signature_request.id,
               SignatureRequest.status == Status.PENDING.value,
               SignatureRequest.expires_at > now)
        .values(status=status.value, citizen_id=citizen.id, decided_at=now, document=None,
                signature=signature,
                expires_at=now + ttl() if status == Status.SIGNED else SignatureRequest.expires_at)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.expire(signature_request)
    return decided


def mark_signed(signature_request: SignatureRequest, citizen: Citizen, signature: bytes) -> bool:
    return _decide(signature_request, citizen, Status.SIGNED, signature)


def mark_refused(signature_request: SignatureRequest, citizen: Citizen) -> bool:
    return _decide(signature_request, citizen, Status.REFUSED, None)


def take_signature(signature_request: SignatureRequest) -> bytes | None:
    """The signed result, once: read, then cleared by an UPDATE that finds it not yet
    downloaded (of parallel downloads, one gets it, the others None)."""
    now = clock.now()
    unread = (SignatureRequest.id == signature_request.id, SignatureRequest.downloaded_at.is_(None),
              SignatureRequest.status == Status.SIGNED.value, SignatureRequest.expires_at > now)
    signature = db.session.scalar(select(SignatureRequest.signature).where(*unread))
    if signature is None:
        return None
    taken = db.session.execute(
        update(SignatureRequest)
        .where(*unread)
        .values(downloaded_at=now, signature=None)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.expire(signature_request)
    return signature if taken else None
