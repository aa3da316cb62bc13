"""One catalogue of the uniform, translated messages shown to citizens.

Views and tests refer to messages by key; pure rules (documents, passwords) return keys
from this catalogue.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from idp import durations

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
    "otp_locked": _l("Too many wrong SMS codes have been entered for your Cl@ve. For your security, no SMS code can be sent or used for %(wait)s. Try again then."),
    "otp_sent": _l("We have sent a 6-digit code by SMS to your mobile phone ending in %(last_digits)s."),
    "otp_not_sent": _l("No SMS code has been sent for this step yet. It will go to your mobile phone ending in %(last_digits)s."),
    "otp_resent": _l("We have sent you a new SMS code."),
    "otp_resend_wait": _l("The last SMS code was sent only a moment ago and may still arrive. You can ask for another one in %(wait)s."),
    "otp_send_limit": _l("We have sent too many SMS codes recently, so no new one has been sent. For your security, wait a while before asking for another one."),
    "sms_unavailable": _l("We could not send the SMS right now. Please try again in a few minutes."),
    # Cl@ve mobile
    "mobile_denied": _l("The request was denied in the Cl@ve app, or the code typed there was not the one on this page. Nobody has logged in."),
    "mobile_expired": _l("The request has expired or was already used. Start again to get a new one."),
    "device_revoked": _l("The app has been revoked: it can no longer approve logins."),
    "mobile_not_yet": _l("The app has not approved the request yet. Approve it in the app and continue."),
    # passkeys
    "passkey_failed": _l("This passkey could not be checked: it may have been made for another website. Nobody has logged in. Try again, or log in another way."),
    "passkey_expired": _l("This passkey request has expired or was already used. Try again."),
    "passkey_unknown": _l("This passkey is not registered with Cl@ve, or it has been removed. Log in another way."),
    "passkey_not_verified": _l("Your passkey did not confirm that it was you (with a PIN, fingerprint or face). Use a passkey that asks for it, or log in another way."),
    "passkey_counter": _l("This passkey has been refused because it may have been copied. Log in another way and remove it from your account page."),
    "passkey_blocked": _l("Your Cl@ve is blocked, so your passkeys cannot be used. Set a new password with your activation code under \"Forgot your password?\"; your passkeys will then have to be added again."),
    "passkey_already_registered": _l("This passkey is already registered with Cl@ve."),
    "passkey_limit": _l("You already have %(limit)s passkeys. Remove one before adding another."),
    "passkey_added": _l("Your passkey has been added. Next time, choose \"Passkey\" on the login page."),
    "passkey_renamed": _l("Your passkey has been renamed."),
    "passkey_removed": _l("Your passkey has been removed: it can no longer be used to log in with Cl@ve."),
    "password_passkeys_revoked": _l("For your security, your passkeys have been removed: add them again from your account page."),
    # Cl@ve Firma
    "signature_unavailable": _l("This signature request does not exist, has expired or has already been answered. Nothing has been signed. Go back to the body that asked you to sign and start again."),
    "signature_other_signer": _l("This document can only be signed by the person the body named when it asked for the signature. Nothing has been signed."),
    "signature_app_denied": _l("The signature was denied in the Cl@ve app, or the code typed there was not the one on this page. Nothing has been signed."),
    "signature_done": _l("Your document has been signed. Download it now: it is kept for one download only."),
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
    "password_expired": _l("Your password is more than %(password_lifetime)s old. Choose a new one to continue."),
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
    # password change, forgotten password, unsubscribe, account
    "reset_failed": _l("The details do not match our records. Check your DNI/NIE and activation code."),
    "not_yet_active": _l("This Cl@ve is not active yet. Activate it first with your activation code."),
    "password_changed": _l("Your password has been changed. It is valid for %(password_lifetime)s. Any other session open with your Cl@ve has been closed."),
    "password_reset_done": _l("Your new password is set and your password is unblocked. It is valid for %(password_lifetime)s. Any other session open with your Cl@ve has been closed."),
    "password_apps_revoked": _l("For your security, your enrolled Cl@ve apps have been revoked: enroll the app again from the app itself."),
    "unsubscribe_restarted": _l("Too many wrong SMS codes. For your security, start the unsubscription again from the beginning."),
    "unsubscribed": _l("Your Permanent Cl@ve has been cancelled. To use Cl@ve again you need a new registration act."),
    "session_ended": _l("That session has been closed."),
    # registration and regeneration of the activation code with a digital certificate
    "certificate_missing": _l("We did not receive a digital certificate. Open this page with your recognised certificate installed in your browser (or your DNIe in its reader) and choose it when your browser asks."),
    "certificate_malformed": _l("Your certificate could not be read. Try again or choose another certificate."),
    "certificate_untrusted": _l("This certificate was not issued by a recognised certification authority. Use a recognised certificate, such as the FNMT's or your DNIe."),
    "certificate_expired": _l("This certificate has expired. Renew it with its issuer, or go to a registration office."),
    "certificate_not_yet_valid": _l("This certificate is not valid yet. Check the date of your computer, or try again later."),
    "certificate_wrong_usage": _l("This certificate cannot be used to identify yourself. Choose your authentication certificate."),
    "certificate_no_document": _l("This certificate does not state the DNI/NIE and name of a citizen."),
    "certificate_already_registered": _l("You are already registered in Cl@ve with this DNI/NIE, so nothing has been changed. If you lost your activation code, ask for a new one; if you have it, activate your Cl@ve or log in."),
    "certificate_not_registered": _l("There is no Cl@ve registration for the DNI/NIE of this certificate. You can register now with the same certificate."),
    "certificate_registered": _l("You are registered in Cl@ve. Your activation code is below: it is shown only this once."),
    "activation_code_regenerated": _l("Your new activation code is below: it is shown only this once. The previous code no longer works."),
    "phone_invalid": _l("Enter a mobile phone number in international form, for example +34600111222."),
    # Cl@ve Firma: documents that cannot be signed (idp.firma.signer)
    "firma_not_pdf": _l("This file is not a PDF document. Only PDF documents can be signed."),
    "firma_pdf_encrypted": _l("This PDF document is protected with a password or encrypted, so it cannot be signed. Sign a copy without protection."),
    "firma_pdf_malformed": _l("This PDF document is damaged or could not be read, so it cannot be signed."),
    "firma_pdf_too_large": _l("This PDF document is too large to be signed: the limit is %(megabytes)s MB."),
    "firma_digest_invalid": _l("The document's fingerprint is not a SHA-256 digest (32 bytes)."),
    "firma_unavailable": _l("The signature service is not available right now, so nothing has been signed. Please try again in a few minutes."),
}


def message(key: str, **params: object) -> str:
    text = str(MESSAGES[key])
    if "%(password_lifetime)s" in text:  # the deployment's setting, never the default's words
        params.setdefault("password_lifetime", durations.password_lifetime())
    return text % params

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


# The consent page reads a name as one line, labelled by the parts it holds.
NAME_LABELS = {
    ("given_name", "first_surname", "second_surname"): _l("Full name"),
    ("given_name",): _l("Given name"),
    ("first_surname", "second_surname"): _l("Surnames"),
    ("first_surname",): _l("First surname"),
    ("second_surname",): _l("Second surname"),
    ("given_name", "first_surname"): _l("Given name and first surname"),
    ("given_name", "second_surname"): _l("Given name and second surname"),
}
DOCUMENT_LABEL = _l("Identity document")
SUBJECT_LABEL = _l("Your identifier")
SUBJECT_VALUES = {
    "pairwise": _l("a code that is only valid for this body"),
    "public": _l("a code that is the same for every body that receives it"),
}
# Said beside the address or number; by claim, as the word agrees with it in some languages.
VERIFIED_WORDS = {
    "email": {True: lazy_pgettext("e-mail address", "verified"),
              False: lazy_pgettext("e-mail address", "not verified")},
    "phone_number": {True: lazy_pgettext("phone number", "verified"),
                     False: lazy_pgettext("phone number", "not verified")},
}


# The account page's "recent security activity": one label per audit tag a citizen sees.
EVENT_LABELS = {
    "registration": _l("Registration act"),
    "activation_code_failed": _l("Wrong activation code entered"),
    "activation_code_blocked": _l("Activation code blocked"),
    "activation_started": _l("Activation started"),
    "activated": _l("Cl@ve activated"),
    "login_succeeded": _l("Logged in"),
    "login_failed": _l("Wrong password entered"),
    "password_blocked": _l("Password blocked"),
    "password_expired": _l("Password expired"),
    "password_changed": _l("Password changed"),
    "password_reset": _l("New password set with the activation code"),
    "activation_code_regenerated": _l("New activation code issued"),
    "registration_refused": _l("Registration with your certificate refused: you were already registered"),
    "activation_code_unblocked": _l("Activation code unblocked"),
    "phone_changed": _l("Mobile phone number changed"),
    "session_ended": _l("Session closed from the account page"),
    "unsubscribed": _l("Permanent Cl@ve cancelled"),
    "otp_sent": _l("SMS code sent"),
    "otp_send_failed": _l("SMS code could not be sent"),
    "otp_failed": _l("Wrong SMS code entered"),
    "otp_exhausted": _l("SMS code blocked after too many wrong tries"),
    "otp_locked": _l("SMS codes locked for a while after too many wrong codes"),
    "otp_verified": _l("SMS code confirmed"),
    "sms_notice_sent": _l("Notice sent by SMS"),
    "sms_notice_send_failed": _l("A notice by SMS could not be sent"),
    "consent_granted": _l("Data released to a public service"),
    "consent_denied": _l("Data release refused"),
    "logout": _l("Logged out"),
    "device_enrolled": _l("Cl@ve mobile app enrolled"),
    "device_revoked": _l("Cl@ve mobile app removed"),
    "devices_revoked": _l("Cl@ve mobile apps revoked by a new password"),
    "passkey_added": _l("Passkey added"),
    "passkey_renamed": _l("Passkey renamed"),
    "passkey_removed": _l("Passkey removed"),
    "passkeys_revoked": _l("Passkeys removed by a new password"),
    "passkey_login_refused": _l("Login with a passkey refused"),
    "passkey_counter_went_back": _l("Passkey refused: it may have been copied"),
    "mobile_approved": _l("Login approved in the Cl@ve app"),
    "mobile_denied": _l("Login denied in the Cl@ve app"),
    "mobile_wrong_code": _l("Login denied: wrong code typed in the Cl@ve app"),
    "firma_certificate_issued": _l("Signature certificate issued for Cl@ve Firma"),
    "firma_certificates_revoked": _l("Signature certificate revoked"),
    "signature_signed": _l("Document signed with Cl@ve Firma"),
    "signature_declined": _l("Signature of a document refused"),
    "signature_signer_mismatch": _l("Signature refused: the document was for another person"),
}


def event_label(tag: str) -> str:
    return str(EVENT_LABELS.get(tag, tag))
