"""One catalogue of the uniform, translated messages shown to citizens.

Views and tests refer to messages by key; pure rules (documents, passwords) return keys
from this catalogue.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

MESSAGES = {
    # documents
    "document_format": _l("Enter a DNI (8 digits and a letter) or NIE (X, Y or Z, 7 digits and a letter)."),
    "document_control_letter": _l("The letter of this DNI/NIE does not match its number. Check it."),
    # uniform refusals: never say whether the document is registered
    "login_failed": _l("The DNI/NIE or the password is not correct."),
    "password_blocked": _l("Your password is blocked after too many failed attempts. Set a new one with your activation code under \"Forgot your password?\"."),
    "activation_failed": _l("The details do not match our records. Check your DNI/NIE, e-mail and activation code."),
    "activation_code_blocked": _l("Your activation code is blocked after too many failed attempts. You need a new registration act or a regenerated activation code."),
    "already_active": _l("This Cl@ve is already active. Log in with your password or use \"Forgot your password?\"."),
    # OTP
    "otp_format": _l("The SMS code has 6 digits."),
    "otp_wrong": _l("The SMS code is not correct. Check it and try again."),
    "otp_expired": _l("The SMS code has expired or was already used. Ask for a new one."),
    "otp_exhausted": _l("Too many wrong SMS codes. Ask for a new code."),
    "otp_sent": _l("We have sent a 6-digit code by SMS to your mobile phone ending in %(last_digits)s."),
    "otp_resent": _l("We have sent you a new SMS code."),
    "otp_resend_wait": _l("Wait a few seconds before asking for another SMS code."),
    "sms_unavailable": _l("We could not send the SMS right now. Please try again in a few minutes."),
    # Cl@ve mobile
    "mobile_denied": _l("The request was denied in the Cl@ve app (or the wrong number was chosen). Nobody has logged in."),
    "mobile_expired": _l("The request has expired or was already used. Start again to get a new one."),
    "mobile_not_yet": _l("The app has not approved the request yet. Approve it in the app and continue."),
    # passwords (keys returned by idp.passwords.check_password)
    "password_too_short": _l("Use at least 8 characters."),
    "password_too_long": _l("Use at most 256 characters."),
    "password_needs_lowercase": _l("Include a lower-case letter (or use 16 characters or more)."),
    "password_needs_uppercase": _l("Include an upper-case letter (or use 16 characters or more)."),
    "password_needs_digit": _l("Include a digit (or use 16 characters or more)."),
    "password_needs_special": _l("Include a special character: ¡!$?%%&#@/\\()=¿?*[];,:._<>+- (or use 16 characters or more)."),
    "password_invalid_character": _l("Use only letters, digits and the special characters ¡!$?%%&#@/\\()=¿?*[];,:._<>+- (or use 16 characters or more)."),
    "password_contains_name": _l("The password must not contain your name or surnames."),
    "password_contains_document": _l("The password must not contain your DNI/NIE."),
    "password_same_as_previous": _l("The new password must be different from the previous one."),
    "password_mismatch": _l("The two passwords do not match."),
    "password_expired": _l("Your password is more than 2 years old. Choose a new one to continue."),
    "warning_keyboard_sequence": _l("Avoid keyboard sequences such as \"asdf\" or \"1234\"."),
    "warning_repeated_characters": _l("Avoid repeating the same character, as in \"111222\"."),
    "warning_personal_data": _l("Avoid personal data such as your birthdate or phone number."),
    # forms and flows
    "field_required": _l("This field is required."),
    "field_too_long": _l("This value is too long."),
    "email_invalid": _l("Enter a valid e-mail address."),
    "rate_limited": _l("Too many attempts. Please wait a few minutes before trying again."),
    "session_expired": _l("This step has expired. Please start again."),
    "csrf_failed": _l("This form has expired or was already sent. Please try again."),
}


def message(key: str, **params: object) -> str:
    return str(MESSAGES[key]) % params

CLAIM_LABELS = {
    "name": _l("Full name"),
    "given_name": _l("Given name"),
    "family_name": _l("Surnames"),
    "first_surname": _l("First surname"),
    "second_surname": _l("Second surname"),
    "birthdate": _l("Date of birth"),
    "email": _l("E-mail address"),
    "email_verified": _l("Whether your e-mail address is verified"),
    "phone_number": _l("Mobile phone number"),
    "phone_number_verified": _l("Whether your phone number is verified"),
    "document_number": _l("DNI/NIE number"),
    "document_type": _l("Type of document (DNI or NIE)"),
    "person_identifier": _l("European identifier (eIDAS)"),
}


def claim_label(name: str) -> str:
    return str(CLAIM_LABELS.get(name, name))
