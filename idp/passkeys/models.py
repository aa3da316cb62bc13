"""Passkeys (WebAuthn credentials) of citizens, and the challenges already answered.

Only the credential's public key (COSE, as the authenticator gave it) is stored; the
private key stays in the authenticator or the citizen's password manager.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen

# WebAuthn allows credential ids of up to 1023 bytes: 1364 characters in base64url.
CREDENTIAL_ID_LENGTH = 1364
NAME_LENGTH = 60


class Passkey(db.Model):
    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(CREDENTIAL_ID_LENGTH), unique=True)
    # The WebAuthn user.id of the citizen, the same for all their passkeys: an authenticator
    # keeps one passkey per account, and an assertion's userHandle must name this one.
    user_handle: Mapped[str] = mapped_column(String(128))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # Signatures counted by the authenticator (a 32-bit unsigned number; 0 when it keeps no
    # count, as synced passkeys do): one that goes backwards betrays a cloned key.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)

    citizen: Mapped[Citizen] = relationship()


class UsedPasskeyChallenge(db.Model):
    """A challenge that has been answered once. Challenges are drafted in the browser's
    signed session (a login page writes nothing); this row, inserted when one is used, is
    what makes it single use across processes. Kept until the challenge has expired."""

    __tablename__ = "used_passkey_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
