"""Nothing a relying party uploads makes the signing core fail otherwise than with a
``DocumentRefused``: random bytes, and valid PDFs with bytes changed, cut or inserted."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.extensions import db
from idp.firma.models import SigningCertificate
from idp.firma.signer import DocumentRefused, inspect_pdf, sign_pdf
from tests.firma.support import make_pdf, new_signer

PDF = make_pdf(pages=2)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def damaged(data: st.DataObject) -> bytes:
    pdf = bytearray(PDF)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(pdf) - 1))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip":
            pdf[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del pdf[at:at + data.draw(st.integers(1, 64))]
        else:
            pdf[at:at] = data.draw(st.binary(min_size=1, max_size=16))
    return bytes(pdf)


@FUZZ
@given(st.binary(max_size=2048))
def test_any_bytes_after_a_pdf_header_are_inspected_or_refused(app, tail):
    try:
        inspect_pdf(b"%PDF-1.7\n" + tail)
    except DocumentRefused:
        pass


def test_a_damaged_pdf_is_signed_or_refused_and_a_refused_one_makes_no_key(app):
    identity = new_signer()

    @FUZZ
    @given(st.data())
    def sign_or_refuse(data: st.DataObject) -> None:
        try:
            sign_pdf(identity, damaged(data))
        except DocumentRefused:
            assert db.session.scalar(db.select(SigningCertificate).filter_by(
                citizen_id=identity.citizen_id)) is None
        finally:
            db.session.rollback()

    sign_or_refuse()


def test_every_single_byte_change_of_a_pdf_is_inspected_or_refused(app):
    accepted = 0
    for at in range(len(PDF)):
        for value in (0x00, 0x01, 0x20, 0x2F, 0x30, 0x39, 0x3C, 0x5B, 0x78, 0xFF):
            try:
                inspect_pdf(PDF[:at] + bytes([value]) + PDF[at + 1:])
                accepted += 1
            except DocumentRefused:
                pass
    assert 0 < accepted < len(PDF) * 10  # some changes are harmless (a date), most are not


def test_the_fuzzing_starts_from_a_pdf_that_is_signed(app):
    assert sign_pdf(new_signer(), PDF).startswith(PDF)
    db.session.rollback()


def test_a_pdf_whose_page_tree_loops_is_refused(app):
    looping = PDF.replace(b"/Kids [ 3 0 R", b"/Kids [ 2 0 R", 1)  # the tree is its own kid
    assert looping != PDF and len(looping) == len(PDF)

    with pytest.raises(DocumentRefused) as refused:
        inspect_pdf(looping)
    assert refused.value.message_key == "firma_pdf_malformed"
