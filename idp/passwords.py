"""The seeds' password policy as pure rules, recommendations as warnings, and argon2id. Pure."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

SPECIAL_CHARACTERS = "¡!$?%&#@/\\()=¿?*[];,:._<>+-"
_ACCENTED_LOWER = "ñçáéíóúàèìòùäëïöüâêîôû"
LOWER = set("abcdefghijklmnopqrstuvwxyz" + _ACCENTED_LOWER)
UPPER = {ch.upper() for ch in LOWER}
DIGITS = set("0123456789")
PASSPHRASE_LENGTH = 16
MIN_LENGTH = 8
MAX_LENGTH = 256
_SEQUENCES = ("qwertyuiop", "asdfghjklñ", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz",
              "01234567890")


@dataclass(frozen=True)
class PersonalData:
    given_name: str
    first_surname: str
    second_surname: str | None
    document: str
    birthdate: date | None = None
    phone: str | None = None


def fold(text: str) -> str:
    """Lower-case without accents, so "PÉREZ" contains "perez"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _name_parts(personal: PersonalData) -> list[str]:
    names = [personal.given_name, personal.first_surname, personal.second_surname or ""]
    return [fold(word) for name in names for word in name.split() if len(word) >= 3]


def check_password(password: str, personal: PersonalData, *,
                   is_previous: Callable[[str], bool] | None = None) -> list[str]:
    """Every rule the password breaks (message keys), in a stable order; empty when fine."""
    failed: list[str] = []
    if len(password) < MIN_LENGTH:
        failed.append("password_too_short")
    if len(password) > MAX_LENGTH:
        return [*failed, "password_too_long"]
    if len(password) < PASSPHRASE_LENGTH:
        chars = set(password)
        if not chars & LOWER:
            failed.append("password_needs_lowercase")
        if not chars & UPPER:
            failed.append("password_needs_uppercase")
        if not chars & DIGITS:
            failed.append("password_needs_digit")
        if not chars & set(SPECIAL_CHARACTERS):
            failed.append("password_needs_special")
        if chars - LOWER - UPPER - DIGITS - set(SPECIAL_CHARACTERS):
            failed.append("password_invalid_character")
    folded = fold(password)
    if any(part in folded for part in _name_parts(personal)):
        failed.append("password_contains_name")
    document = fold(personal.document)
    digits = "".join(ch for ch in document if ch.isdigit())
    if document and (document in folded or (len(digits) >= 6 and digits in folded)):
        failed.append("password_contains_document")
    if is_previous is not None and is_previous(password):
        failed.append("password_same_as_previous")
    return failed


def _has_sequence(folded: str, length: int = 4) -> bool:
    for row in _SEQUENCES:
        for source in (row, row[::-1]):
            for start in range(len(source) - length + 1):
                if source[start:start + length] in folded:
                    return True
    return False


def _has_repeats(password: str, run: int = 3) -> bool:
    return any(password[i] == password[i + 1] == password[i + 2] for i in range(len(password) - run + 1))


def _personal_fragments(personal: PersonalData) -> list[str]:
    fragments: list[str] = []
    if personal.birthdate:
        b = personal.birthdate
        fragments += [f"{b.year}", f"{b.day:02d}{b.month:02d}", f"{b.day:02d}{b.month:02d}{b.year % 100:02d}"]
    if personal.phone:
        phone_digits = "".join(ch for ch in personal.phone if ch.isdigit())
        if len(phone_digits) >= 6:
            fragments.append(phone_digits[-6:])
    return fragments


def password_warnings(password: str, personal: PersonalData) -> list[str]:
    """The seeds' recommendations: shown to the citizen, never blocking."""
    warnings: list[str] = []
    folded = fold(password)
    if _has_sequence(folded):
        warnings.append("warning_keyboard_sequence")
    if _has_repeats(password):
        warnings.append("warning_repeated_characters")
    digits_only = "".join(ch for ch in password if ch.isdigit())
    if any(fragment in digits_only for fragment in _personal_fragments(personal)):
        warnings.append("warning_personal_data")
    return warnings


def strength(password: str, personal: PersonalData | None = None) -> int:
    """0 (weak) to 4 (strong): length and variety, minus one per warning."""
    classes = sum(bool(set(password) & group) for group in (LOWER, UPPER, DIGITS, set(SPECIAL_CHARACTERS)))
    score = min(len(password) // 6, 2) + (classes >= 3) + (len(password) >= PASSPHRASE_LENGTH)
    if personal is not None:
        score -= len(password_warnings(password, personal))
    return max(0, min(4, score))


class PasswordHasher:
    """argon2id with our parameters; never raises for a wrong or malformed hash."""

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._argon2 = _Argon2(memory_cost=memory_kib, time_cost=time_cost,
                               parallelism=parallelism, type=Type.ID)
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, encoded: str, password: str) -> bool:
        try:
            return self._argon2.verify(encoded, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self._argon2.check_needs_rehash(encoded)
        except InvalidHashError:
            return True

    def burn(self, password: str) -> None:
        """Spend the time of one verification, so unknown accounts answer as slowly."""
        if self._dummy is None:
            self._dummy = self.hash("clave-idp-timing-equaliser")
        self.verify(self._dummy, password)
