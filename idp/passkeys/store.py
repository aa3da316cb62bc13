"""A citizen's passkeys: adding, listing, renaming, removing, revoking them all, and
recording a login with one (its sign counter and backup state)."""

from __future__ import annotations

import base64
import secrets as random

from sqlalchemy import update
from sqlalchemy.orm import joinedload

from idp.clock import clock
from idp.extensions import db
from idp.models import Citizen
from idp.passkeys.ceremonies import NewCredential
from idp.passkeys.models import Passkey

MAX_PASSKEYS = 10


def active_passkeys(citizen: Citizen) -> list[Passkey]:
    return list(db.session.scalars(
        db.select(Passkey).filter_by(citizen_id=citizen.id, revoked_at=None)
        .order_by(Passkey.created_at, Passkey.id)))


def user_handle(citizen: Citizen) -> bytes:
    """The citizen's WebAuthn user.id: random, never their document, and the same for all
    their passkeys (an authenticator keeps one passkey per user.id and site)."""
    known = db.session.scalar(db.select(Passkey.user_handle).filter_by(citizen_id=citizen.id).limit(1))
    if known is None:
        return random.token_bytes(32)
    return base64.urlsafe_b64decode(known + "=" * (-len(known) % 4))  # stored unpadded


def find_active(credential_id: str) -> Passkey | None:
    """The passkey a login names, with its citizen (one statement)."""
    return db.session.scalar(db.select(Passkey).filter_by(credential_id=credential_id, revoked_at=None)
                             .options(joinedload(Passkey.citizen)))


def credential_known(credential_id: str) -> bool:
    return db.session.scalar(db.select(Passkey.id).filter_by(credential_id=credential_id)) is not None


def add(citizen: Citizen, credential: NewCredential, name: str) -> Passkey:
    from webauthn.helpers.structs import CredentialDeviceType

    verified = credential.verified
    passkey = Passkey(citizen_id=citizen.id, credential_id=credential.credential_id,
                      user_handle=credential.user_handle, public_key=verified.credential_public_key,
                      sign_count=verified.sign_count,
                      backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
                      backed_up=verified.credential_backed_up, name=name)
    db.session.add(passkey)
    db.session.flush()
    return passkey


def rename(citizen: Citizen, passkey_id: int, name: str) -> bool:
    return bool(db.session.execute(
        update(Passkey).where(Passkey.id == passkey_id, Passkey.citizen_id == citizen.id,
                              Passkey.revoked_at.is_(None)).values(name=name)).rowcount)


def remove(citizen: Citizen, passkey_id: int) -> bool:
    return bool(db.session.execute(
        update(Passkey).where(Passkey.id == passkey_id, Passkey.citizen_id == citizen.id,
                              Passkey.revoked_at.is_(None)).values(revoked_at=clock.now())).rowcount)


def revoke_all(citizen: Citizen) -> int:
    """Revoke every passkey of the citizen (a new password, unsubscribe)."""
    return db.session.execute(
        update(Passkey).where(Passkey.citizen_id == citizen.id, Passkey.revoked_at.is_(None))
        .values(revoked_at=clock.now())).rowcount


def counter_went_back(passkey: Passkey, new_count: int) -> bool:
    """An authenticator that counts must show a higher count each time (WebAuthn §6.1.1);
    0 and 0 is one that does not count (synced passkeys)."""
    return (new_count > 0 or passkey.sign_count > 0) and new_count <= passkey.sign_count


def record_use(passkey: Passkey, *, new_count: int, backed_up: bool) -> bool:
    """Store the new count and backup state of a verified login, on the condition that
    nobody stored another since this request read the passkey and it is still active;
    False when that changed (a parallel login, a removal): this login is refused."""
    used = db.session.execute(
        update(Passkey).where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count,
                              Passkey.revoked_at.is_(None))
        .values(sign_count=new_count, backed_up=backed_up, last_used_at=clock.now())).rowcount
    return bool(used)
