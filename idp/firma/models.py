"""The citizens' signing certificates, each with its sealed private key.

A row is one key and the certificate the Cl@ve Firma CA issued for it. A citizen has at
most one *live* certificate (``live_citizen_id`` is unique, and NULL once the certificate
is revoked or replaced), so two first signatures at once cannot give them two keys. Rows
are never deleted: a revoked certificate stays listed in the CRL until it expires.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.clock import clock
from idp.extensions import db


class SigningCertificate(db.Model):
    __tablename__ = "firma_certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    live_citizen_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)  # hex, as the CRL lists it
    certificate: Mapped[bytes] = mapped_column(LargeBinary)  # DER
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)  # idp.firma.sealing
    key_type: Mapped[str] = mapped_column(String(16))
    not_after: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
