"""Nothing a relying party uploads makes the document inspection fail otherwise than with a
``DocumentRefused``: random bytes after a PDF header, every single-byte change of a valid PDF,
a page tree that loops. ``inspect_pdf`` reads no database (what it refuses makes nothing:
tests/firma/test_pdf_fuzz.py), so the PostgreSQL pass of ``make test`` leaves this file out."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.firma.signer import DocumentRefused, inspect_pdf
from tests.firma.support import make_pdf

PDF = make_pdf(pages=2)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=2048))
def test_any_bytes_after_a_pdf_header_are_inspected_or_refused(app, tail):
    try:
        inspect_pdf(b"%PDF-1.7\n" + tail)
    except DocumentRefused:
        pass


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


def test_a_pdf_whose_page_tree_loops_is_refused(app):
    looping = PDF.replace(b"/Kids [ 3 0 R", b"/Kids [ 2 0 R", 1)  # the tree is its own kid
    assert looping != PDF and len(looping) == len(PDF)

    with pytest.raises(DocumentRefused) as refused:
        inspect_pdf(looping)
    assert refused.value.message_key == "firma_pdf_malformed"
