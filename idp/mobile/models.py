"""Enrolled devices and login challenges of Cl@ve mobile."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen


class Device(db.Model):
    """A phone app that enrolled with Permanent Cl@ve + SMS and holds an ES256 key.

    Only the public key is stored; the private key never leaves the device.
    """

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    enrolled_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    citizen: Mapped[Citizen] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.citizen.is_active


class ChallengeKind(StrEnum):
    QR = "qr"
    PUSH = "push"
    SIGNATURE = "signature"  # a document to sign (Cl@ve Firma), pushed to the signer's apps


class ChallengeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    CONSUMED = "consumed"


class MobileChallenge(db.Model):
    """One login request waiting for an app's decision; usable once, for 5 minutes.

    ``id`` is public (it is what the QR code carries); the browser that shows it is bound
    to it through its session cookie, so only that browser can continue with an approval.
    """

    __tablename__ = "mobile_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ChallengeStatus.PENDING, index=True)
    # For a push challenge, the citizen is known from the start; for a QR one, on approval.
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"),
                                                   index=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    auth_request_id: Mapped[str | None] = mapped_column(String(64))
    client_name: Mapped[str | None] = mapped_column(String(200))
    requested_claims: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A signature challenge: the request it authorises and what the app shows of it,
    # {"request_id", "name", "sha256"}; never a login.
    document: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # The code the browser shows and the citizen types in the app (number matching). Kept
    # in clear: the page shows it again, and it is no secret from whoever sees that page;
    # what it proves is that the citizen looked at it. It is never sent to the app.
    verification_code: Mapped[str] = mapped_column(String(8))
    origin_ip: Mapped[str | None] = mapped_column(String(64))
    origin_user_agent: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    citizen: Mapped[Citizen | None] = relationship()

    def expired(self) -> bool:
        return self.expires_at <= clock.now()
