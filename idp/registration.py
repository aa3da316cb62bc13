"""Validation of the data recorded by a registration act (office or certificate)."""

from __future__ import annotations

import re

_PHONE = re.compile(r"^\+[1-9][0-9]{7,14}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


class RegistrationError(ValueError):
    pass


def normalise_phone(raw: str | None) -> str:
    """The E.164 form of a mobile number typed with spaces or dashes."""
    phone = re.sub(r"[\s-]", "", raw or "")
    if not _PHONE.match(phone):
        raise RegistrationError("phone must be in E.164 form, e.g. +34600111222")
    return phone


def validate_registration(*, given_name: str, first_surname: str, second_surname: str | None,
                          email: str, phone: str, contrast_data: str) -> dict[str, str | None]:
    def name(value: str | None, label: str, required: bool = True) -> str | None:
        value = " ".join((value or "").split())
        if required and not value:
            raise RegistrationError(f"{label} is required")
        if len(value) > 100:
            raise RegistrationError(f"{label} is too long")
        return value or None

    phone = normalise_phone(phone)
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise RegistrationError("email is not valid")
    contrast = (contrast_data or "").strip()
    if not contrast or len(contrast) > 32:
        raise RegistrationError("contrast data is required (at most 32 characters)")
    return {"given_name": name(given_name, "given name"),
            "first_surname": name(first_surname, "first surname"),
            "second_surname": name(second_surname, "second surname", required=False),
            "email": email, "phone": phone, "contrast_data": contrast}
