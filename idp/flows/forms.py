"""Reading the stable form fields (SPEC §6) into values or message keys."""

from __future__ import annotations

import re

from flask import request

from idp.documents import Document, InvalidDocument, parse_document

FIELD_LIMITS = {"document": 32, "contrast_data": 32, "password": 256, "otp": 16, "email": 254,
                "activation_code": 64, "new_password": 256, "new_password_confirm": 256,
                "name": 60}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


class FormErrors(dict[str, list[str]]):
    """Field name → message keys; empty when the form is fine."""

    def add(self, field: str, key: str) -> None:
        self.setdefault(field, []).append(key)


def text(name: str, errors: FormErrors, *, required: bool = True, strip: bool = True) -> str:
    value = request.form.get(name, "")
    value = value.strip() if strip else value
    if len(value) > FIELD_LIMITS.get(name, 256):
        errors.add(name, "field_too_long")
        return ""
    if required and not value:
        errors.add(name, "field_required")
    return value


def document(errors: FormErrors, name: str = "document") -> Document | None:
    raw = text(name, errors)
    if errors.get(name):
        return None
    try:
        return parse_document(raw)
    except InvalidDocument as invalid:
        errors.add(name, invalid.reason)
        return None


def email(errors: FormErrors) -> str:
    value = text("email", errors)
    if value and not _EMAIL.match(value):
        errors.add("email", "email_invalid")
    return value.lower()
