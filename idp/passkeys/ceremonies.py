"""The two WebAuthn ceremonies, with py_webauthn doing every parse and signature check:
registering a passkey for a citizen and logging in with one.

Relying party: the issuer's host is the RP ID and the issuer's origin the only origin, so
a passkey made here is offered by the browser on this site only, and an assertion signed
for any other site (a phishing copy of this page) is refused.

Challenges are drafted in the browser's signed session, not stored: a login page that
offers passkeys writes nothing. Each is bound to that browser, lives
``IDP_PASSKEY_CHALLENGE_TTL`` seconds and is answered once: the first answer inserts its
hash (``UsedPasskeyChallenge``), and an insert that finds it there (a replay, or two
parallel requests with one challenge, on any process) is refused.

py_webauthn (about 5 MB with what it imports) is loaded by a worker when it first meets a
passkey, not with the app: a worker that only serves passwords and tokens stays lighter
(issue 14's 120 MB per worker; ``tests/passkeys/test_worker_memory.py``).
"""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app, session

from idp import secrets
from idp.clock import clock
from idp.connections import insert_for
from idp.extensions import db
from idp.passkeys.models import UsedPasskeyChallenge

if TYPE_CHECKING:
    from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
    from webauthn.helpers.structs import AuthenticationCredential
    from webauthn.registration.verify_registration_response import VerifiedRegistration

SESSION_KEY = "passkey_challenges"
MAX_DRAFTS = 5  # a few tabs of one browser, each with its own challenge
RP_NAME = "Cl@ve"


class Purpose(StrEnum):
    LOGIN = "login"
    ENROLL = "enroll"


class Refused(Exception):  # noqa: N818 - a refusal, not a fault
    """A credential this site will not accept; ``key`` is the message shown (idp.messages)
    and ``reason`` what the audit trail records."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason[:200]


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str


def relying_party() -> RelyingParty:
    issuer = urlsplit(current_app.config["IDP_ISSUER"])
    return RelyingParty(id=issuer.hostname or "", origin=f"{issuer.scheme}://{issuer.netloc}")


def _lifetime() -> int:
    return int(current_app.config["IDP_PASSKEY_CHALLENGE_TTL"])


# -- challenges ----------------------------------------------------------------------------

def _draft(purpose: Purpose, **bound: Any) -> bytes:
    from webauthn.helpers import bytes_to_base64url

    challenge = random.token_bytes(32)
    drafts = [d for d in session.get(SESSION_KEY, []) if d["expires"] > clock.timestamp()]
    drafts.append({"challenge": bytes_to_base64url(challenge), "purpose": purpose,
                   "expires": clock.timestamp() + _lifetime(), **bound})
    session[SESSION_KEY] = drafts[-MAX_DRAFTS:]
    return challenge


def _take(purpose: Purpose, client_data_json: bytes) -> dict[str, Any]:
    """The draft this answer was made for, taken out of the session and marked used, or
    ``Refused`` when it is not this browser's, has expired or was answered already."""
    from webauthn.helpers import bytes_to_base64url, parse_client_data_json

    try:
        answered = bytes_to_base64url(parse_client_data_json(client_data_json).challenge)
    except Exception as problem:  # noqa: BLE001 - whatever the browser sent: refused
        raise Refused("passkey_failed", f"client data: {problem}") from None
    drafts = session.get(SESSION_KEY, [])
    draft = next((d for d in drafts if d["challenge"] == answered and d["purpose"] == purpose), None)
    if draft is None or draft["expires"] <= clock.timestamp():
        raise Refused("passkey_expired", "challenge unknown to this browser or expired")
    session[SESSION_KEY] = [d for d in drafts if d is not draft]
    expires_at = datetime.fromtimestamp(draft["expires"], UTC).replace(tzinfo=None)
    used = UsedPasskeyChallenge.__table__
    insert = insert_for(db.session)(used).values(
        challenge_hash=secrets.keyed_hash(answered, "passkey-challenge"), expires_at=expires_at)
    # RETURNING, not rowcount: psycopg gives no row count for INSERT … ON CONFLICT DO NOTHING.
    if db.session.execute(insert.on_conflict_do_nothing().returning(used.c.challenge_hash)).first() is None:
        raise Refused("passkey_expired", "challenge already answered")
    return draft


# -- registration --------------------------------------------------------------------------

def registration_options(*, citizen_id: int, user_handle: bytes, user_name: str,
                         display_name: str, existing: list[str]) -> str:
    """The JSON for ``navigator.credentials.create``: a discoverable credential with user
    verification, no attestation, none of the citizen's current passkeys again."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    rp = relying_party()
    challenge = _draft(Purpose.ENROLL, citizen_id=citizen_id, user_handle=bytes_to_base64url(user_handle))
    options = generate_registration_options(
        rp_id=rp.id, rp_name=RP_NAME, user_id=user_handle, user_name=user_name,
        user_display_name=display_name, challenge=challenge, timeout=_lifetime() * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing])
    return options_to_json(options)


@dataclass(frozen=True)
class NewCredential:
    credential_id: str
    user_handle: str
    verified: VerifiedRegistration


def verify_registration(raw: str, *, citizen_id: int) -> NewCredential:
    """The credential ``navigator.credentials.create`` gave for the challenge this browser
    got for this citizen, verified; ``Refused`` otherwise."""
    from webauthn import verify_registration_response
    from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_registration_credential_json
    from webauthn.helpers.structs import RegistrationCredential

    credential = _parsed(parse_registration_credential_json, raw)
    assert isinstance(credential, RegistrationCredential)
    draft = _take(Purpose.ENROLL, credential.response.client_data_json)
    if draft.get("citizen_id") != citizen_id:
        raise Refused("passkey_expired", "challenge of another citizen")
    rp = relying_party()
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(draft["challenge"]),
            expected_rp_id=rp.id, expected_origin=rp.origin, require_user_verification=True)
    except Exception as problem:  # noqa: BLE001 - parsing CBOR/COSE of any browser: refused
        raise Refused("passkey_failed", str(problem)) from None
    return NewCredential(bytes_to_base64url(verified.credential_id), draft["user_handle"], verified)


# -- authentication ------------------------------------------------------------------------

def authentication_options() -> str:
    """The JSON for ``navigator.credentials.get``: any of this site's passkeys (the browser
    offers them; nobody types a DNI), with user verification."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    options = generate_authentication_options(
        rp_id=relying_party().id, challenge=_draft(Purpose.LOGIN), timeout=_lifetime() * 1000,
        user_verification=UserVerificationRequirement.REQUIRED)
    return options_to_json(options)


def parse_assertion(raw: str) -> AuthenticationCredential:
    from webauthn.helpers import parse_authentication_credential_json
    from webauthn.helpers.structs import AuthenticationCredential

    credential = _parsed(parse_authentication_credential_json, raw)
    assert isinstance(credential, AuthenticationCredential)
    return credential


def take_login_challenge(credential: AuthenticationCredential) -> bytes:
    """The challenge of this browser that the assertion answers, now used up; ``Refused``
    when there is none (expired, another browser's, answered already)."""
    from webauthn.helpers import base64url_to_bytes

    return base64url_to_bytes(_take(Purpose.LOGIN, credential.response.client_data_json)["challenge"])


def verify_assertion(credential: AuthenticationCredential, challenge: bytes, *, public_key: bytes,
                     user_handle: str) -> VerifiedAuthentication:
    """Check an assertion against its challenge and the stored public key.

    The library checks type, challenge, origin, RP ID, user presence and the signature; the
    sign counter is left to the caller, who compares it and stores the new one in one
    conditional UPDATE (``credential_current_sign_count=0`` makes the library skip it), and
    so is user verification, checked after the signature so that a refusal for it speaks of
    a genuine passkey.
    """
    from webauthn import verify_authentication_response
    from webauthn.helpers import bytes_to_base64url

    if credential.response.user_handle and bytes_to_base64url(credential.response.user_handle) != user_handle:
        raise Refused("passkey_failed", "user handle of another account")
    rp = relying_party()
    try:
        return verify_authentication_response(
            credential=credential, expected_challenge=challenge,
            expected_rp_id=rp.id, expected_origin=rp.origin, credential_public_key=public_key,
            credential_current_sign_count=0, require_user_verification=False)
    except Exception as problem:  # noqa: BLE001 - parsing CBOR/COSE of any browser: refused
        raise Refused("passkey_failed", str(problem)) from None


def _parsed(parse, raw: str):  # type: ignore[no-untyped-def]
    try:
        return parse(raw)
    except Exception as problem:  # noqa: BLE001 - whatever the browser sent: refused
        raise Refused("passkey_failed", f"credential: {problem}") from None

