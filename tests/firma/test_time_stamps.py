"""With ``IDP_TSA_URL`` the signatures are baseline B-T: a time-stamp from that RFC 3161
service over the signature proves when it was made (so a later revocation does not cast
doubt on it). Without it (the default) they are B-B and no service is asked."""

from __future__ import annotations

from io import BytesIO

import pytest
from asn1crypto import cms
from flask import current_app
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from idp.extensions import db
from idp.firma.signer import SigningUnavailable, sign_digest, sign_pdf
from tests.firma.support import fetch_published, make_pdf, new_signer, pyhanko_status, sha256
from tests.firma.tsa import time_stamping_service


@pytest.fixture
def tsa(app):  # type: ignore[no-untyped-def]
    with time_stamping_service() as service:
        current_app.config["IDP_TSA_URL"] = service.url
        yield service


def test_with_a_tsa_the_pdf_signature_carries_a_valid_time_stamp(browser, tsa):
    signed = sign_pdf(new_signer(), make_pdf())
    db.session.commit()

    [signature] = PdfFileReader(BytesIO(signed)).embedded_signatures
    status = validate_pdf_signature(
        signature, ValidationContext(trust_roots=[fetch_published(browser).ca]),
        ts_validation_context=ValidationContext(trust_roots=[tsa.certificate]))
    assert status.bottom_line
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.trusted
    assert tsa.requests >= 1


def test_with_a_tsa_the_detached_signature_carries_a_time_stamp_token(app, tsa):
    signed = cms.ContentInfo.load(sign_digest(new_signer(), sha256(b"x"), name="x"))

    unsigned = signed["content"]["signer_infos"][0]["unsigned_attrs"]
    assert [attr["type"].native for attr in unsigned] == ["signature_time_stamp_token"]


def test_by_default_signatures_are_b_b_and_no_time_stamp_is_asked(browser):
    assert current_app.config["IDP_TSA_URL"] == ""
    signed = sign_pdf(new_signer(), make_pdf())
    db.session.commit()

    assert pyhanko_status(signed, fetch_published(browser)).timestamp_validity is None


def test_an_unreachable_tsa_makes_the_signature_unavailable_not_a_server_error(app):
    with time_stamping_service() as stopped:
        url = stopped.url
    current_app.config["IDP_TSA_URL"] = url  # nothing listens there any more
    identity = new_signer()

    for sign in (lambda: sign_pdf(identity, make_pdf()),
                 lambda: sign_digest(identity, sha256(b"x"), name="x")):
        with pytest.raises(SigningUnavailable) as unavailable:
            sign()
        assert unavailable.value.message_key == "firma_unavailable"
