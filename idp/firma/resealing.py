"""Sealing the citizens' signing keys again under a new seal secret (``idp firma reseal``).

A deployment that changes ``IDP_FIRMA_SEAL_SECRET`` (or ``IDP_SECRET_KEY`` while that is
empty) can no longer open the keys sealed under the previous one: signatures fail until the
keys are sealed again. The operator deploys the new secret, then gives the command the
previous one; every key that the previous key-encryption key opens is sealed again under
the deployment's own (a fresh nonce, the same binding to its certificate row), in one unit
of work. A key already under the deployment's KEK is left as it is, so running the command
twice changes nothing; a key neither opens is counted and left, so that restoring the right
secret can still recover it. The clear key exists only in memory, one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from idp.audit import EventTag, record_event
from idp.extensions import db
from idp.firma import sealing
from idp.firma.models import SigningCertificate
from idp.firma.pki import DESTROYED, key_binding


@dataclass(frozen=True)
class Resealed:
    resealed: int  # opened with the previous KEK, now under the deployment's
    current: int  # already under the deployment's KEK
    unopenable: int  # opened by neither: left as they were

    def as_dict(self) -> dict[str, int]:
        return {"resealed": self.resealed, "current": self.current, "unopenable": self.unopenable}


def reseal_keys(previous_secret: str) -> Resealed:
    """Seal every live key that ``previous_secret``'s KEK opens under the deployment's KEK.

    The caller's unit of work commits. A row whose key changed meanwhile (revoked, hence
    destroyed, by a request running at the same moment) is not written over."""
    current_kek, previous_kek = sealing.deployment_kek(), sealing.derive_kek(previous_secret)
    table = SigningCertificate
    rows = db.session.execute(select(table.id, table.citizen_id, table.serial, table.sealed_key)
                              .where(table.sealed_key != DESTROYED).order_by(table.id)).all()
    resealed = current = unopenable = 0
    for row in rows:
        binding = key_binding(row.citizen_id, row.serial)
        if _opens(current_kek, row.sealed_key, binding):
            current += 1
            continue
        try:
            key = sealing.unseal(previous_kek, row.sealed_key, binding=binding)
        except sealing.KeyUnavailable:
            unopenable += 1
            continue
        resealed += db.session.execute(
            update(table).where(table.id == row.id, table.sealed_key == row.sealed_key)
            .values(sealed_key=sealing.seal(current_kek, key, binding=binding))).rowcount
    result = Resealed(resealed, current, unopenable)
    record_event(EventTag.FIRMA_KEYS_RESEALED, **result.as_dict())
    return result


def _opens(kek: bytes, sealed: bytes, binding: bytes) -> bool:
    try:
        sealing.unseal(kek, sealed, binding=binding)
    except sealing.KeyUnavailable:
        return False
    return True
