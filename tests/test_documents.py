"""DNI and NIE: normalisation, shape and control letter."""

from __future__ import annotations

import pytest

from idp.documents import (
    Document,
    DocumentType,
    InvalidDocument,
    control_letter,
    normalise_document,
    parse_document,
)


@pytest.mark.parametrize(("number", "letter"), [
    (12345678, "Z"),
    (0, "T"),
    (1234567, "L"),   # X1234567 → 01234567
    (11234567, "X"),  # Y1234567 → 11234567
    (21234567, "R"),  # Z1234567 → 21234567
    (22, "E"),
])
def test_control_letter_is_the_number_modulo_23_in_the_official_table(number: int, letter: str) -> None:
    assert control_letter(number) == letter


def test_control_letter_refuses_a_negative_number() -> None:
    with pytest.raises(ValueError, match="negative"):
        control_letter(-1)


@pytest.mark.parametrize(("raw", "number", "kind"), [
    ("12345678Z", "12345678Z", DocumentType.DNI),
    ("00000000T", "00000000T", DocumentType.DNI),
    ("X1234567L", "X1234567L", DocumentType.NIE),
    ("Y1234567X", "Y1234567X", DocumentType.NIE),
    ("Z1234567R", "Z1234567R", DocumentType.NIE),
])
def test_valid_documents_are_parsed_with_their_type(raw: str, number: str, kind: DocumentType) -> None:
    assert parse_document(raw) == Document(number, kind)


@pytest.mark.parametrize("raw", [
    "12345678z",
    " 12345678Z ",
    "12.345.678-Z",
    "12 345 678 z",
    "12345678-z",
    "\t12345678Z\n",
    "x-1234567-l",
    "x.1234567.l",
])
def test_documents_are_normalised_before_they_are_checked(raw: str) -> None:
    assert parse_document(raw).number in {"12345678Z", "X1234567L"}


def test_normalise_document_upper_cases_and_strips_separators() -> None:
    assert normalise_document(" x-1234.567 l ") == "X1234567L"


def test_person_identifier_is_prefixed_with_the_issuing_and_receiving_country() -> None:
    assert parse_document("12345678Z").person_identifier == "ES/ES/12345678Z"
    assert parse_document("X1234567L").person_identifier == "ES/ES/X1234567L"


@pytest.mark.parametrize("raw", [
    "12345678A",
    "00000000R",
    "X1234567A",
    "Y1234567L",
    "Z1234567X",
])
def test_dni_or_nie_with_wrong_control_letter_is_refused_as_control_letter_error(raw: str) -> None:
    with pytest.raises(InvalidDocument) as refused:
        parse_document(raw)
    assert refused.value.reason == "document_control_letter"


@pytest.mark.parametrize("raw", [
    "",
    "   ",
    "Z",
    "1234567L",        # a DNI has exactly 8 digits
    "123456789Z",
    "12345678",        # no letter
    "12345678ZZ",
    "A1234567L",       # only X, Y and Z start an NIE
    "X12345678L",
    "X123456L",
    "ZZ1234567R",
    "12345678Ñ",
    "١٢٣٤٥٦٧٨Z",       # Arabic-Indic digits are digits to Python, not to a DNI
    "１２３４５６７８Z",  # full-width digits
    "12345678Z;DROP",
    "1" * 33,
    " " * 40 + "12345678Z",  # over the raw length cap even though it would normalise
])
def test_text_not_shaped_like_a_dni_or_nie_is_refused_as_format_error(raw: str) -> None:
    with pytest.raises(InvalidDocument) as refused:
        parse_document(raw)
    assert refused.value.reason == "document_format"


@pytest.mark.parametrize("raw", [None, 12345678, b"12345678Z", ["12345678Z"]])
def test_a_value_that_is_not_text_is_a_format_error_not_a_crash(raw: object) -> None:
    with pytest.raises(InvalidDocument) as refused:
        parse_document(raw)  # type: ignore[arg-type]
    assert refused.value.reason == "document_format"


def test_invalid_document_is_a_value_error_so_generic_validation_catches_it() -> None:
    assert issubclass(InvalidDocument, ValueError)


def test_a_raw_document_of_exactly_the_length_cap_is_still_normalised() -> None:
    assert parse_document("12345678Z".center(32)).number == "12345678Z"
