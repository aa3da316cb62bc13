"""Spanish identity documents (DNI and NIE), normalised and checked by their control letter.

Pure: no Flask. Every place a citizen types a document goes through `parse_document`, so a
mistyped letter is caught as a form error before any lookup (and never reveals whether the
document is registered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

CONTROL_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
# The NIE's initial letter stands for a leading digit when the control letter is computed.
NIE_PREFIX_DIGIT = {"X": "0", "Y": "1", "Z": "2"}
# Generous enough for "12.345.678-Z" and stray spaces; anything longer is not a document.
MAX_RAW_LENGTH = 32

# [0-9] rather than \d: \d also matches other scripts' digits, which int() would accept.
_DNI = re.compile(r"([0-9]{8})([A-Z])")
_NIE = re.compile(r"([XYZ])([0-9]{7})([A-Z])")
_SEPARATORS = re.compile(r"[\s.\-]+")


class DocumentType(StrEnum):
    DNI = "DNI"
    NIE = "NIE"


@dataclass(frozen=True)
class Document:
    number: str
    type: DocumentType

    @property
    def person_identifier(self) -> str:
        """eIDAS-style identifier (issuing country / receiving country / number)."""
        return f"ES/ES/{self.number}"


class InvalidDocument(ValueError):
    """`reason` is a message key, so forms and APIs show it without inspecting the text."""

    FORMAT = "document_format"
    CONTROL_LETTER = "document_control_letter"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def control_letter(number: int) -> str:
    if number < 0:
        raise ValueError("a document number is never negative")
    return CONTROL_LETTERS[number % 23]


def normalise_document(raw: str | None) -> str:
    """Upper-case without spaces, dots or dashes: "12.345.678-z" and "12345678Z" are one person.

    Not a str (a missing form field, a JSON number) is a format error rather than a crash.
    """
    if not isinstance(raw, str) or len(raw) > MAX_RAW_LENGTH:
        raise InvalidDocument(InvalidDocument.FORMAT)
    return _SEPARATORS.sub("", raw).upper()


def parse_document(raw: str | None) -> Document:
    value = normalise_document(raw)
    if match := _DNI.fullmatch(value):
        digits, letter = match.groups()
        kind = DocumentType.DNI
    elif match := _NIE.fullmatch(value):
        prefix, rest, letter = match.groups()
        digits, kind = NIE_PREFIX_DIGIT[prefix] + rest, DocumentType.NIE
    else:
        raise InvalidDocument(InvalidDocument.FORMAT)
    if control_letter(int(digits)) != letter:
        raise InvalidDocument(InvalidDocument.CONTROL_LETTER)
    return Document(value, kind)
