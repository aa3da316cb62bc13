"""A citizen's enrolled Cl@ve mobile devices: listing and revoking them."""

from __future__ import annotations

from sqlalchemy import update

from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.mobile.models import Device
from idp.models import Citizen


def active_devices(citizen: Citizen) -> list[Device]:
    return list(db.session.scalars(
        db.select(Device).filter_by(citizen_id=citizen.id, revoked_at=None)
        .order_by(Device.enrolled_at.desc())))


def revoke_device(citizen: Citizen, device_id: str | None) -> bool:
    """Revoke one of this citizen's devices; False when it is not theirs or already revoked."""
    revoked = db.session.execute(
        update(Device).where(Device.id == device_id, Device.citizen_id == citizen.id,
                             Device.revoked_at.is_(None))
        .values(revoked_at=clock.now())).rowcount
    if revoked:
        record_event(EventTag.DEVICE_REVOKED, citizen, device_id=device_id)
    return bool(revoked)


def revoke_all(citizen: Citizen) -> int:
    """Revoke every device of the citizen (unsubscribe, a new password)."""
    return db.session.execute(
        update(Device).where(Device.citizen_id == citizen.id, Device.revoked_at.is_(None))
        .values(revoked_at=clock.now())).rowcount
