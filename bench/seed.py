"""Citizens for the benchmark, inserted fast and in bulk before the server starts.

One citizen goes through the domain code (``citizens.register`` + ``citizens.set_password``)
so that its row is exactly what the product writes; every other citizen is a copy of that
row with its own document, phone and e-mail. They all share that one argon2id hash
(hashing a million passwords at m=19 MiB would take hours); a login still verifies it at
the full configured cost. The login pool also gets the consent for the benchmark clients,
since the measured login is one where consent was already given, and an enrolled Cl@ve app
each (rows as enrollment writes them, all with the public half of one key the load
generator holds). Bulk rows record no audit event (the office act would).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import func, insert, select

from idp import citizens
from idp.documents import parse_document
from idp.extensions import db
from idp.mobile.models import Device
from idp.models import Citizen, Consent
from idp.oidc import claims as claim_rules

PASSWORD = "Bench-Clave-2026!"  # noqa: S105 - the seeded citizens' shared test password
LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
FIRST_NUMBER = 10_000_000
CHUNK = 20_000


@dataclass(frozen=True)
class PoolCitizen:
    document: str
    phone: str
    device_id: str


@dataclass(frozen=True)
class Seeded:
    citizens: int
    pool: list[PoolCitizen]
    seconds: float


def dni(index: int) -> str:
    number = FIRST_NUMBER + index
    return f"{number:08d}{LETTERS[number % 23]}"


def phone(index: int) -> str:
    return f"+34{600_000_000 + index}"


def _template(app: Flask) -> dict:
    """The row the domain code writes for an active citizen, minus its identity."""
    registered = citizens.register(parse_document(dni(0)), given_name="Carmen",
                                   first_surname="Pruebas", second_surname="Carga",
                                   email="c0@bench.invalid", phone=phone(0),
                                   contrast_data="01012035")
    citizens.set_password(registered.citizen, PASSWORD)
    db.session.commit()
    row = dict(db.session.execute(select(Citizen.__table__).where(
        Citizen.id == registered.citizen.id)).mappings().one())
    row.pop("id")
    return row


def seed(app: Flask, *, total: int, pool: int, client_ids: Sequence[str], scope: str,
         device_jwk: dict[str, Any]) -> Seeded:
    """``total`` active citizens; the first ``pool`` of them have consented to the clients
    and enrolled an app whose public key is ``device_jwk``."""
    started = time.perf_counter()
    with app.test_request_context():
        if db.session.scalar(select(func.count()).select_from(Citizen)):
            raise SystemExit("the benchmark database already has citizens: use an empty one")
        template = _template(app)
        table = Citizen.__table__
        for start in range(1, total, CHUNK):
            rows = [{**template, "document": dni(i), "phone": phone(i),
                     "email": f"c{i}@bench.invalid"} for i in range(start, min(start + CHUNK, total))]
            db.session.execute(insert(table), rows)
        db.session.commit()
        claims = claim_rules.requested_claims(scope, {})
        chosen = db.session.execute(select(Citizen.id, Citizen.document, Citizen.phone)
                                    .order_by(Citizen.id).limit(pool)).all()
        granted = template["created_at"]
        db.session.execute(insert(Consent.__table__), [
            {"citizen_id": row.id, "client_id": client_id, "claims": claims, "granted_at": granted}
            for client_id in client_ids for row in chosen])
        db.session.execute(insert(Device.__table__), [
            {"id": device_id(row.id), "citizen_id": row.id, "name": "Bench phone",
             "public_jwk": device_jwk, "enrolled_at": granted} for row in chosen])
        db.session.commit()
        db.session.remove()
    return Seeded(total, [PoolCitizen(row.document, row.phone, device_id(row.id)) for row in chosen],
                  time.perf_counter() - started)


def device_id(citizen_id: int) -> str:
    return f"bench-device-{citizen_id}"
