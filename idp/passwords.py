"""The seeds' password policy as pure rules, their recommendations as warnings, and argon2id.

Pure: no Flask. Rules and warnings return message keys (see `idp.messages`), so every failed
rule can be listed to the citizen at once, in their language.

Passwords are compared in Unicode NFC: "ñ" typed as one code point or as "n" plus a combining
tilde (some keyboards and operating systems do the latter) is the same letter, counts once
towards the length, and hashes the same.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import VerificationError

from idp import metrics
from idp.argon2_memory import KeptMemory

MIN_LENGTH = 8
# From this length on there is no restriction on character types: pass-phrases.
PASSPHRASE_LENGTH = 16
# An input cap, not a policy: nobody types more, and it bounds the work done per request.
MAX_LENGTH = 256

SPECIAL_CHARACTERS = "¡!$?%&#@/\\()=¿?*[];,:._<>+-"
_ACCENTED_LOWER = "ñç" "áéíóú" "àèìòù" "äëïöü" "âêîôû"
LOWERCASE = frozenset("abcdefghijklmnopqrstuvwxyz" + _ACCENTED_LOWER)
UPPERCASE = frozenset(ch.upper() for ch in LOWERCASE)
DIGITS = frozenset("0123456789")
SPECIALS = frozenset(SPECIAL_CHARACTERS)
ALLOWED_BELOW_PASSPHRASE = LOWERCASE | UPPERCASE | DIGITS | SPECIALS

# Shorter name parts ("de", "la", "Li") would refuse far too many good passwords.
MIN_NAME_PART = 3
SEQUENCE_LENGTH = 4
_KEYBOARD_RUNS = ("qwertyuiop", "asdfghjklñ", "zxcvbnm", "abcdefghijklmnopqrstuvwxyz",
                  "1234567890", "0123456789")
_REPEATED = re.compile(r"(.)\1\1")
# What people put between the parts of a date or a document number.
_SEPARATORS = re.compile(r"[\s/.\-_]+")
_LETTER_RUNS = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class PersonalData:
    given_name: str
    first_surname: str
    second_surname: str | None
    document: str
    birthdate: date | None = None
    phone: str | None = None


def fold(text: str) -> str:
    """Lower-case without accents, so that "PEREZ" contains the surname "Pérez"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _name_parts(personal: PersonalData) -> set[str]:
    names = (personal.given_name, personal.first_surname, personal.second_surname or "")
    return {part for name in names for part in _LETTER_RUNS.findall(fold(name or ""))
            if len(part) >= MIN_NAME_PART}


def _contains_document(folded: str, document: str) -> bool:
    number = re.sub(r"[^0-9a-z]", "", fold(document or ""))
    if not number:
        return False
    digits = re.sub(r"[^0-9]", "", number)
    haystacks = (folded, _SEPARATORS.sub("", folded))
    needles = [number, digits] if digits else [number]
    return any(needle in haystack for needle in needles for haystack in haystacks)


def check_password(password: str, personal: PersonalData, *,
                   is_previous: Callable[[str], bool] | None = None) -> list[str]:
    """Every rule the password breaks, as message keys in a stable order; empty when acceptable.

    `is_previous` is asked last, and not at all for an over-long input, because it usually
    costs an argon2 verification.
    """
    password = unicodedata.normalize("NFC", password)
    failed: list[str] = []
    if len(password) < MIN_LENGTH:
        failed.append("password_too_short")
    too_long = len(password) > MAX_LENGTH
    if too_long:
        failed.append("password_too_long")
    if len(password) < PASSPHRASE_LENGTH:
        chars = set(password)
        for group, key in ((LOWERCASE, "password_needs_lowercase"),
                           (UPPERCASE, "password_needs_uppercase"),
                           (DIGITS, "password_needs_digit"),
                           (SPECIALS, "password_needs_special")):
            if not chars & group:
                failed.append(key)
        if chars - ALLOWED_BELOW_PASSPHRASE:
            failed.append("password_invalid_character")
    folded = fold(password)
    if any(part in folded for part in _name_parts(personal)):
        failed.append("password_contains_name")
    if _contains_document(folded, personal.document):
        failed.append("password_contains_document")
    if not too_long and is_previous is not None and is_previous(password):
        failed.append("password_same_as_previous")
    return failed


def _sequences() -> frozenset[str]:
    grams: set[str] = set()
    for run in _KEYBOARD_RUNS:
        run = fold(run)
        for source in (run, run[::-1]):
            grams.update(source[i:i + SEQUENCE_LENGTH] for i in range(len(source) - SEQUENCE_LENGTH + 1))
    return frozenset(grams)


_SEQUENCES = _sequences()


def _has_sequence(folded: str) -> bool:
    return any(folded[i:i + SEQUENCE_LENGTH] in _SEQUENCES
               for i in range(len(folded) - SEQUENCE_LENGTH + 1))


def _personal_digit_runs(personal: PersonalData) -> list[str]:
    runs: list[str] = []
    if personal.birthdate is not None:
        year, month, day = personal.birthdate.year, personal.birthdate.month, personal.birthdate.day
        runs += [f"{year:04d}", f"{day:02d}{month:02d}", f"{day:02d}{month:02d}{year % 100:02d}",
                 f"{day:02d}{month:02d}{year:04d}", f"{year:04d}{month:02d}{day:02d}"]
    if personal.phone:
        phone_digits = re.sub(r"[^0-9]", "", personal.phone)
        if len(phone_digits) >= 6:
            runs.append(phone_digits[-6:])
    return runs


def password_warnings(password: str, personal: PersonalData | None = None) -> list[str]:
    """The seeds' recommendations, shown live with the strength meter; they never block."""
    folded = fold(unicodedata.normalize("NFC", password))
    warnings: list[str] = []
    if _has_sequence(folded):
        warnings.append("warning_keyboard_sequence")
    if _REPEATED.search(folded):
        warnings.append("warning_repeated_characters")
    compact = _SEPARATORS.sub("", folded)
    if personal is not None and any(run in compact for run in _personal_digit_runs(personal)):
        warnings.append("warning_personal_data")
    return warnings


@dataclass(frozen=True)
class ChecklistRule:
    """One line of the live checklist: the message key of the rule (shown as its text) and
    what the browser needs to tick it (``idp/static/password.js``); kind ``server`` is
    decided only when the form is sent (personal data, the previous password)."""

    key: str
    kind: str  # "min", "needs", "allowed" or "server"
    characters: str = ""


def checklist() -> list[ChecklistRule]:
    """The rules of ``check_password`` in the form the page shows them: one source for the
    server's verdict and the browser's ticks."""
    def chars(group: frozenset[str]) -> str:
        return "".join(sorted(group))

    return [
        ChecklistRule("password_too_short", "min"),
        ChecklistRule("password_needs_lowercase", "needs", chars(LOWERCASE)),
        ChecklistRule("password_needs_uppercase", "needs", chars(UPPERCASE)),
        ChecklistRule("password_needs_digit", "needs", chars(DIGITS)),
        ChecklistRule("password_needs_special", "needs", SPECIAL_CHARACTERS),
        ChecklistRule("password_invalid_character", "allowed", chars(ALLOWED_BELOW_PASSPHRASE)),
        ChecklistRule("password_contains_name", "server"),
        ChecklistRule("password_contains_document", "server"),
        ChecklistRule("password_same_as_previous", "server"),
    ]


def keyboard_runs() -> str:
    """The runs a keyboard sequence is taken from, space-separated, for the browser."""
    return " ".join(fold(run) for run in _KEYBOARD_RUNS)


def strength(password: str, personal: PersonalData | None = None) -> int:
    """A 0-4 meter: a point per length band (8, 12, 16 chars), one for using 3+ kinds of
    character (lower, upper, digit, other), minus one per warning. Shorter than 8 is 0.

    Deliberately simple: it nudges, the rules decide.
    """
    password = unicodedata.normalize("NFC", password)
    if len(password) < MIN_LENGTH:
        return 0
    kinds = {"lower" if ch.islower() else "upper" if ch.isupper() else "digit" if ch.isdigit()
             else "other" for ch in password}
    score = sum(len(password) >= band for band in (MIN_LENGTH, 12, PASSPHRASE_LENGTH))
    score += len(kinds) >= 3
    score -= len(password_warnings(password, personal))
    return max(0, min(4, score))


class PasswordHasher:
    """argon2id with our parameters; a wrong password or a malformed hash is just False.

    Each computation holds ``memory_kib`` of memory while it runs, so at most
    ``max_concurrent`` run at once in a process (a threaded worker would otherwise hold one
    per busy thread); the others wait their turn, which costs no throughput while the
    process has no more cores than that to run them on.
    """

    _DUMMY_PASSWORD = "clave-idp: equalises the time of unknown accounts"  # noqa: S105

    def __init__(self, memory_kib: int, time_cost: int, parallelism: int,
                 max_concurrent: int = 1) -> None:
        self._argon2 = _Argon2(memory_cost=memory_kib, time_cost=time_cost,
                               parallelism=parallelism, type=Type.ID)
        self._dummy_hash: str | None = None
        self._turns = threading.BoundedSemaphore(max(1, max_concurrent))
        self._memory = KeptMemory(max_concurrent)  # a block per verification allowed at once

    def hash(self, password: str) -> str:
        with self._turns, metrics.argon2_timed("hash"):
            return self._argon2.hash(unicodedata.normalize("NFC", password))

    def verify(self, encoded: str, password: str) -> bool:
        if not isinstance(encoded, str):
            return False
        try:
            with self._turns, metrics.argon2_timed("verify"):
                return self._memory.verify(encoded, unicodedata.normalize("NFC", password))
        except (VerificationError, ValueError):  # ValueError: malformed or non-ASCII hash
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """True also for an unreadable hash: whatever is stored should be replaced."""
        try:
            return self._argon2.check_needs_rehash(encoded)
        except ValueError:
            return True

    def burn(self, password: str) -> None:
        """Spend one verification, so an unknown account answers as slowly as a known one.

        Two threads may both compute the dummy the first time; that is harmless.
        """
        if self._dummy_hash is None:
            self._dummy_hash = self.hash(self._DUMMY_PASSWORD)
        self.verify(self._dummy_hash, password)
