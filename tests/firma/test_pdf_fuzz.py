"""Nothing a relying party uploads makes the signing core fail otherwise than with a
``DocumentRefused``, and a refused document makes no signing key: valid PDFs with bytes
changed, cut or inserted. (The inspection alone, which reads no database, is fuzzed in
tests/firma/test_pdf_inspection_fuzz.py.)"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.extensions import db
from idp.firma.models import SigningCertificate
from idp.firma.signer import DocumentRefused, sign_pdf
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


def test_the_fuzzing_starts_from_a_pdf_that_is_signed(app):
    assert sign_pdf(new_signer(), PDF).startswith(PDF)
    db.session.rollback()
