"""A detached CMS (CAdES) signature over a SHA-256 digest verifies with ``openssl cms``
against the published CA, for the document of that digest and no other."""

from __future__ import annotations

import os

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from idp.extensions import db
from idp.firma.models import SigningCertificate
from idp.firma.signer import DocumentRefused, sign_digest
from tests.firma.support import fetch_published, new_signer, openssl_cms_verify, sha256


@pytest.fixture
def ca_pem(browser, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "ca.pem"
    ca = x509.load_der_x509_certificate(fetch_published(browser).ca_der)
    path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return path


def signed_document(tmp_path, content: bytes, **options):  # type: ignore[no-untyped-def]
    signature = tmp_path / "signature.p7s"
    signature.write_bytes(sign_digest(new_signer(), sha256(content), name="contrato.odt", **options))
    db.session.commit()
    return signature


def test_openssl_verifies_the_detached_signature_against_the_ca(tmp_path, ca_pem):
    content = os.urandom(4096)
    (tmp_path / "contrato.odt").write_bytes(content)

    result = openssl_cms_verify(signed_document(tmp_path, content), tmp_path / "contrato.odt", ca_pem)

    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


def test_openssl_refuses_the_signature_for_a_document_of_another_digest(tmp_path, ca_pem):
    (tmp_path / "other.odt").write_bytes(os.urandom(4096))

    result = openssl_cms_verify(signed_document(tmp_path, os.urandom(4096)), tmp_path / "other.odt",
                                ca_pem)

    assert result.returncode != 0 and "Verification successful" not in result.stderr


def test_the_signature_carries_the_chain_the_signing_certificate_and_the_documents_name(app, tmp_path):
    signed = cms.ContentInfo.load(signed_document(tmp_path, b"texto").read_bytes())

    data = signed["content"]
    assert data["encap_content_info"]["content"].native is None  # detached
    assert len(data["certificates"]) == 2
    attributes = {attr["type"].dotted: attr for attr in data["signer_infos"][0]["signed_attrs"]}
    assert "1.2.840.113549.1.9.16.2.47" in attributes  # signing-certificate-v2 (CAdES)
    hints = attributes["1.2.840.113549.1.9.16.2.4"]["values"][0].contents
    assert b"contrato.odt" in hints


def test_a_digest_that_is_not_32_bytes_is_refused_before_any_key_is_made(app):
    identity = new_signer()
    with pytest.raises(DocumentRefused) as refused:
        sign_digest(identity, b"\x00" * 20, name="x")
    assert refused.value.message_key == "firma_digest_invalid"
    assert db.session.scalar(db.select(SigningCertificate).filter_by(citizen_id=identity.citizen_id)) is None
