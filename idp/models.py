"""Citizens and everything that happens to them: one-time codes, flow steps,
single sign-on sessions, consents and the audit trail.

Secrets (passwords, activation codes, OTPs, session tokens) are stored only as
hashes; see ``idp.secrets``.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.clock import clock
from idp.extensions import db


class CitizenStatus(StrEnum):
    REGISTERED = "registered"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"


class Citizen(db.Model):
    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[str] = mapped_column(String(16), unique=True)
    document_type: Mapped[str] = mapped_column(String(3))
    given_name: Mapped[str] = mapped_column(String(100))
    first_surname: Mapped[str] = mapped_column(String(100))
    second_surname: Mapped[str | None] = mapped_column(String(100))
    birthdate: Mapped[date | None] = mapped_column(Date)
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(20))
    contrast_data_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=CitizenStatus.REGISTERED)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    previous_password_hash: Mapped[str | None] = mapped_column(String(255))
    password_set_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_failures: Mapped[int] = mapped_column(Integer, default=0)
    password_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    activation_code_hash: Mapped[str | None] = mapped_column(String(64))
    activation_failures: Mapped[int] = mapped_column(Integer, default=0)
    activation_code_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped by a password change or reset: sessions of an older epoch are over.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Wrong SMS codes over every code, flow and purpose (idp.otp), counted from the first
    # of a window; the one that reaches the limit locks the citizen's codes until then.
    otp_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    otp_failures_since: Mapped[datetime | None] = mapped_column(DateTime)
    otp_locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)

    @property
    def surnames(self) -> str:
        return " ".join(s for s in (self.first_surname, self.second_surname) if s)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.surnames}"

    @property
    def is_active(self) -> bool:
        return self.status == CitizenStatus.ACTIVE

    def password_expired(self) -> bool:
        return self.password_expires_at is not None and self.password_expires_at <= clock.now()


class OtpCode(db.Model):
    """An SMS one-time code: single use, short-lived, a few tries."""

    __tablename__ = "otp_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime)


class UnregisteredDocument(db.Model):
    """The activation-code counter of a DNI/NIE without a live registration (never
    registered, or unsubscribed), keyed by the document's keyed hash. Codes typed for it
    count and block as for a registered document (``idp.citizens.check_activation_code``),
    so neither the answers nor the work behind them tell whether it is registered."""

    __tablename__ = "unregistered_documents"

    document_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    activation_failures: Mapped[int] = mapped_column(Integer, default=0)
    activation_code_blocked: Mapped[bool] = mapped_column(Boolean, default=False)


class FlowState(db.Model):
    """Server-side state of a multi-step citizen flow.

    The browser holds only a random token in its session cookie; the row is keyed
    by the token's hash, so any app process can continue the flow.
    """

    __tablename__ = "flow_states"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    # The pending authorization request the flow serves (a login for a relying party): the
    # flow ends with it, by the database, so that answering the request ends its flow
    # without a statement of its own.
    pending_request_id: Mapped[str | None] = mapped_column(
        ForeignKey("authorization_requests.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)

    citizen: Mapped[Citizen | None] = relationship()


class LoginSession(db.Model):
    """A citizen's single sign-on session at the IdP (the ``sid`` of ID tokens)."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON)
    auth_time: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))

    citizen: Mapped[Citizen] = relationship()


class Consent(db.Model):
    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("citizen_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    claims: Mapped[list[str]] = mapped_column(JSON)
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(48), index=True)
    citizen_id: Mapped[int | None] = mapped_column(Integer, index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now, index=True)
