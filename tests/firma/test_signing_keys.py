"""A citizen has one live signing key: parallel first signatures make only one, and the one
they all sign with; RSA-3072 keys are made when the setting asks for them; a certificate
near its end is replaced at the next signature."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import current_app

from idp.clock import clock
from idp.extensions import db
from idp.firma import pki
from idp.firma.models import SigningCertificate
from idp.firma.signer import sign_digest, sign_pdf
from idp.unit_of_work import transaction
from tests.firma.support import fetch_published, make_pdf, new_signer, pyhanko_status, sha256
from tests.flows.support import sql_work

PARALLEL = 6


def signer_serial(signature: bytes) -> int:
    info = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    return info["sid"].chosen["serial_number"].native


def test_parallel_first_signatures_make_one_key_and_all_sign_with_it(app, monkeypatch):
    """Every signature finds no live key before any is stored. On PostgreSQL they all make
    one and race to store it (the losers take the winner's); on SQLite the savepoint that
    makes a key waits for the write lock, so each later one finds the first's key."""
    identity = new_signer()
    everyone_looked = threading.Barrier(PARALLEL, timeout=30)
    if db.engine.dialect.name == "postgresql":
        make_key = pki.generate_key

        def generate_key_once_all_found_none(key_type: str):  # type: ignore[no-untyped-def]
            everyone_looked.wait()
            return make_key(key_type)

        monkeypatch.setattr(pki, "generate_key", generate_key_once_all_found_none)
    else:
        look = pki.live_credential

        def look_and_wait_for_the_others(identity):  # type: ignore[no-untyped-def]
            found = look(identity)
            everyone_looked.wait()
            return found

        monkeypatch.setattr(pki, "live_credential", look_and_wait_for_the_others)

    def first_signature(_: int) -> bytes:
        with app.app_context(), transaction():
            return sign_digest(identity, sha256(b"contrato"), name="contrato.pdf")

    with ThreadPoolExecutor(PARALLEL) as pool:
        signatures = list(pool.map(first_signature, range(PARALLEL)))

    [row] = db.session.scalars(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id))
    assert {signer_serial(signature) for signature in signatures} == {int(row.serial, 16)}


def test_rsa_3072_keys_are_made_when_the_setting_asks_and_validate_like_p256(browser):
    current_app.config["IDP_FIRMA_KEY_TYPE"] = "RSA-3072"
    signed = sign_pdf(new_signer(), make_pdf())
    db.session.commit()

    status = pyhanko_status(signed, fetch_published(browser))
    assert status.bottom_line
    key = x509.load_der_x509_certificate(status.signing_cert.dump()).public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 3072


def test_by_default_the_key_is_p256(browser):
    signed = sign_pdf(new_signer(), make_pdf())
    db.session.commit()

    key = x509.load_der_x509_certificate(
        pyhanko_status(signed, fetch_published(browser)).signing_cert.dump()).public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def test_a_certificate_a_week_from_its_end_is_replaced_at_the_next_signature(app):
    identity = new_signer()
    first = sign_digest(identity, sha256(b"a"), name="a")
    db.session.commit()

    clock.advance(days=730 - 6)
    second = sign_digest(identity, sha256(b"b"), name="b")
    db.session.commit()

    assert signer_serial(first) != signer_serial(second)
    rows = db.session.scalars(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id)
                              .order_by(SigningCertificate.id)).all()
    assert [(row.live_citizen_id, row.revoked_at) for row in rows] == [
        (None, None), (identity.citizen_id, None)]
    assert rows[0].sealed_key == b"" and rows[1].sealed_key  # the replaced key is destroyed


def test_a_signature_with_a_live_key_reads_one_row_and_writes_nothing(app):
    identity = new_signer()
    with sql_work(current_app._get_current_object()) as first:
        sign_digest(identity, sha256(b"a"), name="a")
    db.session.commit()

    with sql_work(current_app._get_current_object()) as again:
        sign_digest(identity, sha256(b"b"), name="b")
        sign_pdf(identity, make_pdf())

    assert len(first.writes_to("firma_certificates")) == 1
    assert (again.statements, again.sql[0].lstrip()[:6]) == (2, "SELECT")  # one row, per signature
    assert again.writes_to("firma_certificates") == [] and not db.session.dirty
