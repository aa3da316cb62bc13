"""The citizen's private key is stored sealed: the bytes at rest are not the key, only this
deployment's key-encryption key opens them, and only on the row they were sealed for. The
CA's key is encrypted with IDP_KEYS_PASSPHRASE when that is set."""

from __future__ import annotations

import stat

import pytest
from cryptography.hazmat.primitives import serialization
from flask import current_app

from idp.extensions import db
from idp.firma import pki, sealing
from idp.firma.ca import CA_FILE, ensure_ca, load_ca
from idp.firma.models import SigningCertificate
from idp.firma.signer import SigningUnavailable, sign_digest
from tests.firma.support import new_signer, sha256


def signing_row(app) -> tuple[SigningCertificate, bytes]:  # type: ignore[no-untyped-def]
    """A citizen's certificate row, after one signature, and their key in clear (PKCS#8 DER)."""
    identity = new_signer()
    sign_digest(identity, sha256(b"x"), name="x")
    db.session.commit()
    return (db.session.scalar(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id)),
            pki.signing_credential(identity).private_key_der)


def test_the_sealed_key_at_rest_does_not_contain_the_private_key(app):
    row, key_der = signing_row(app)
    key = serialization.load_der_private_key(key_der, password=None)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]

    assert key_der not in row.sealed_key and scalar not in row.sealed_key
    assert b"PRIVATE KEY" not in row.sealed_key


def test_a_wrong_key_encryption_key_cannot_open_the_sealed_key(app):
    row, key_der = signing_row(app)
    binding = f"firma-certificate:{row.citizen_id}:{row.serial}".encode()

    assert sealing.unseal(sealing.deployment_kek(), row.sealed_key, binding=binding) == key_der
    with pytest.raises(sealing.KeyUnavailable):
        sealing.unseal(sealing.derive_kek("another deployment's secret"), row.sealed_key,
                       binding=binding)


def test_a_sealed_key_copied_onto_another_citizens_row_does_not_open(app):
    row, _ = signing_row(app)
    other, _ = signing_row(app)

    with pytest.raises(sealing.KeyUnavailable):
        sealing.unseal(sealing.deployment_kek(), row.sealed_key,
                       binding=f"firma-certificate:{other.citizen_id}:{other.serial}".encode())


def test_a_process_with_another_seal_secret_fails_the_signature_and_makes_no_new_key(app):
    identity = new_signer()
    sign_digest(identity, sha256(b"x"), name="x")
    db.session.commit()

    current_app.config["IDP_FIRMA_SEAL_SECRET"] = "not this deployment's"
    with pytest.raises(SigningUnavailable) as unavailable:
        sign_digest(identity, sha256(b"y"), name="y")
    assert isinstance(unavailable.value.__cause__, sealing.KeyUnavailable)
    db.session.rollback()

    rows = db.session.scalars(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id)).all()
    assert [(row.live_citizen_id, row.revoked_at) for row in rows] == [(identity.citizen_id, None)]


def test_the_seal_secret_setting_is_used_in_place_of_the_secret_key(app):
    app.config["IDP_FIRMA_SEAL_SECRET"] = "a secret kept apart"
    with app.app_context():
        assert sealing.deployment_kek() == sealing.derive_kek("a secret kept apart")
        assert sealing.deployment_kek() != sealing.derive_kek(app.config["IDP_SECRET_KEY"])


def test_the_ca_is_made_once_owner_only_and_its_key_encrypted_with_the_passphrase(tmp_path):
    assert ensure_ca(tmp_path, "correct horse battery staple")
    first = (tmp_path / CA_FILE).read_bytes()
    assert not ensure_ca(tmp_path, "correct horse battery staple")

    assert (tmp_path / CA_FILE).read_bytes() == first
    assert stat.S_IMODE((tmp_path / CA_FILE).stat().st_mode) == 0o600
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in first and b"BEGIN PRIVATE KEY" not in first
    assert load_ca(tmp_path, "correct horse battery staple").certificate.subject.rfc4514_string() \
        == "CN=Cl@ve Firma CA,O=Clave IdP,C=ES"
    with pytest.raises((ValueError, TypeError)):
        load_ca(tmp_path, "wrong")


def test_an_app_with_the_passphrase_serves_and_signs_with_an_encrypted_ca(app, tmp_path):
    from tests.conftest import build_app

    keys = tmp_path / "keys"
    (keys / CA_FILE).unlink()
    ensure_ca(keys, "correct horse battery staple")
    with_passphrase = build_app(tmp_path, IDP_KEYS_PASSPHRASE="correct horse battery staple")

    published = with_passphrase.test_client().get("/firma/ca.crt").get_data()
    with with_passphrase.app_context():
        certificate = pki.signing_credential(new_signer()).certificate
    assert certificate.issuer.rfc4514_string() == "CN=Cl@ve Firma CA,O=Clave IdP,C=ES"
    assert load_ca(keys, "correct horse battery staple").certificate_der == published
