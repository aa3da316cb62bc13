"""Spanish identity documents: DNI and NIE, normalised and checked by their control letter. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
NIE_PREFIX = {"X": "0", "Y": "1", "Z": "2"}
_DNI = re.compile(r"^(\d{8})([A-Z])$")
_NIE = re.compile(r"^([XYZ])(\d{7})([A-Z])$")
MAX_RAW_LENGTH = 32


class DocumentType(StrEnum):
    DNI = "DNI"
    NIE = "NIE"


@dataclass(frozen=True)
class Document:
    number: str
    type: DocumentType

    @property
    def person_identifier(self) -> str:
        return f"ES/ES/{self.number}"


class InvalidDocument(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "document_format" or "document_control_letter"


def control_letter(number: int) -> str:
    return LETTERS[number % 23]


def normalise_document(raw: object) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_RAW_LENGTH:
        raise InvalidDocument("document_format")
    return re.sub(r"[\s.\-]", "", raw).upper()


def parse_document(raw: object) -> Document:
    value = normalise_document(raw)
    if match := _DNI.match(value):
        digits, letter, kind = match.group(1), match.group(2), DocumentType.DNI
    elif match := _NIE.match(value):
        digits, letter, kind = NIE_PREFIX[match.group(1)] + match.group(2), match.group(3), DocumentType.NIE
    else:
        raise InvalidDocument("document_format")
    if control_letter(int(digits)) != letter:
        raise InvalidDocument("document_control_letter")
    return Document(value, kind)
