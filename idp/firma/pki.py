"""Citizens' signing keys and certificates, made on first use, and their revocation.

A citizen's first signature makes their key (``IDP_FIRMA_KEY_TYPE``: P-256 or RSA-3072)
and has the Cl@ve Firma CA certify it: subject with the given name and both surnames,
``serialNumber`` = ``IDCES-<DNI/NIE>`` (ETSI EN 319 412-1 semantics identifier), key usage
non-repudiation, the CRL at ``<issuer>/firma/crl``, valid at most
``IDP_FIRMA_CERTIFICATE_DAYS`` (2 years at most). The key is stored sealed
(``idp.firma.sealing``); near its end a certificate is replaced by a new key and
certificate at the next signature.

``revoke_citizen_certificates`` ends a citizen's certificates when their credential ends
(unsubscribe, a password reset): the CRL lists them from then on and their next signature
makes a new key. A revoked or replaced certificate's key is destroyed (its sealed bytes
erased). Everything runs in the caller's unit of work and never commits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from flask import current_app
from sqlalchemy import func, update

from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.connections import insert_for
from idp.extensions import db
from idp.firma import sealing
from idp.firma.ca import Authority, PrivateKey, generate_key, load_ca, sign_crl, utc
from idp.firma.identity import SignerIdentity
from idp.firma.models import SigningCertificate

MAX_CERTIFICATE_DAYS = 730
RENEW_BEFORE = timedelta(days=7)  # a certificate this close to its end is not used again
CRL_LIFETIME = timedelta(days=1)
CRL_REFRESH = timedelta(hours=12)  # a CRL this old is made again, changes or not
# What is left of a key once its certificate is revoked or replaced: it never signs again,
# so it is not kept (only the certificate, which the CRL and validators still need).
DESTROYED = b""
_EXTENSION = "idp.firma.ca"
_loading = threading.Lock()


class RevocationReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"
    # Whoever reset the password held the activation code and the phone: the credential
    # that authorises this key may have been in other hands.
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a reason, not a secret


CRL_REASONS = {RevocationReason.UNSUBSCRIBED: x509.ReasonFlags.cessation_of_operation,
               RevocationReason.PASSWORD_RESET: x509.ReasonFlags.key_compromise}


@dataclass(frozen=True)
class _Holder:
    """Whom an audit event is about, by id (``record_event`` needs nothing more)."""

    id: int


@dataclass(frozen=True)
class Credential:
    """A citizen's live certificate, the CA's above it, and their key, opened for one
    signature. Held only while that signature is made."""

    certificate: x509.Certificate
    ca_certificate: x509.Certificate
    private_key_der: bytes  # PKCS#8


def authority() -> Authority:
    """The CA, loaded once per app (its key may be encrypted: decrypting it takes time)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(_EXTENSION)
    if found is None:
        with _loading:
            found = app.extensions.get(_EXTENSION)
            if found is None:
                found = load_ca(Path(app.config["IDP_KEYS_DIR"]), app.config["IDP_KEYS_PASSPHRASE"])
                app.extensions[_EXTENSION] = found
    return found


def live_credential(identity: SignerIdentity) -> Credential | None:
    """The citizen's key and certificate if they have a live one not yet due for renewal;
    nothing is written."""
    row = _live_certificate(identity.citizen_id)
    if row is None or _due_for_renewal(row):
        return None
    return _open(row)


def signing_credential(identity: SignerIdentity) -> Credential:
    """The citizen's key and certificate, made now if they have none that is live."""
    row = _live_certificate(identity.citizen_id)
    if row is not None and _due_for_renewal(row):
        db.session.execute(update(SigningCertificate).where(SigningCertificate.id == row.id)
                           .values(live_citizen_id=None, sealed_key=DESTROYED))
        row = None
    if row is None:
        row = _issue(identity)
    return _open(row)


def _due_for_renewal(row: SigningCertificate) -> bool:
    return row.not_after - clock.now() <= RENEW_BEFORE


def _live_certificate(citizen_id: int) -> SigningCertificate | None:
    return db.session.scalar(db.select(SigningCertificate).filter_by(live_citizen_id=citizen_id))


def _issue(identity: SignerIdentity) -> SigningCertificate:
    """A new key and certificate. Two first signatures at once: the second insert finds
    the first's row (``live_citizen_id`` is unique) and uses that one instead."""
    config = current_app.config
    key_type = config["IDP_FIRMA_KEY_TYPE"]
    key = generate_key(key_type)
    serial = x509.random_serial_number()
    certificate = _certify(identity, key, serial)
    private_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    values = {
        "citizen_id": identity.citizen_id, "live_citizen_id": identity.citizen_id,
        "serial": format(serial, "x"), "key_type": key_type,
        "certificate": certificate.public_bytes(serialization.Encoding.DER),
        "sealed_key": sealing.seal(sealing.deployment_kek(), private_der,
                                   binding=key_binding(identity.citizen_id, format(serial, "x"))),
        "not_after": certificate.not_valid_after_utc.replace(tzinfo=None),
        "created_at": clock.now(),
    }
    insert = insert_for(db.session)
    inserted = db.session.execute(
        insert(SigningCertificate).values(**values)
        .on_conflict_do_nothing(index_elements=[SigningCertificate.live_citizen_id])).rowcount
    row = _live_certificate(identity.citizen_id)
    if row is None:  # pragma: no cover - the conflicting row was retired meanwhile
        raise RuntimeError("the citizen's certificate changed while it was being made")
    if inserted:
        record_event(EventTag.FIRMA_CERTIFICATE_ISSUED, _Holder(identity.citizen_id),
                     serial=values["serial"], key_type=key_type)
    return row


def subject_name(identity: SignerIdentity) -> x509.Name:
    common = f"{identity.surnames.upper()} {identity.given_name.upper()} - {identity.document}"
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IDCES-{identity.document}"),
        x509.NameAttribute(NameOID.GIVEN_NAME, identity.given_name),
        x509.NameAttribute(NameOID.SURNAME, identity.surnames),
        x509.NameAttribute(NameOID.COMMON_NAME, common[:64]),
    ])


def _certify(identity: SignerIdentity, key: PrivateKey, serial: int) -> x509.Certificate:
    ca = authority()
    issuer = current_app.config["IDP_ISSUER"]
    now = utc(clock.now())
    days = min(current_app.config["IDP_FIRMA_CERTIFICATE_DAYS"], MAX_CERTIFICATE_DAYS)
    not_after = min(now + timedelta(days=days), ca.certificate.not_valid_after_utc)
    public = key.public_key()
    return (x509.CertificateBuilder()
            .subject_name(subject_name(identity)).issuer_name(ca.certificate.subject)
            .public_key(public).serial_number(serial)
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                           critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(f"{issuer}/firma/crl")],
                relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(f"{issuer}/firma/ca.crt"))]), critical=False)
            .sign(ca.key, hashes.SHA256()))


def key_binding(citizen_id: int, serial_hex: str) -> bytes:
    """What a sealed key is bound to: its certificate row (citizen and serial, as stored)."""
    return f"firma-certificate:{citizen_id}:{serial_hex}".encode()


def _open(row: SigningCertificate) -> Credential:
    certificate = x509.load_der_x509_certificate(row.certificate)
    key = sealing.unseal(sealing.deployment_kek(), row.sealed_key,
                         binding=key_binding(row.citizen_id, format(certificate.serial_number, "x")))
    return Credential(certificate, authority().certificate, key)


# -- revocation -----------------------------------------------------------------------

def revoke_citizen_certificates(citizen_id: int, reason: RevocationReason) -> int:
    """Revoke every certificate of the citizen not revoked yet (one audit event when there
    was any); returns how many. The next ``GET /firma/crl`` lists them."""
    revoked = db.session.execute(
        update(SigningCertificate)
        .where(SigningCertificate.citizen_id == citizen_id, SigningCertificate.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revocation_reason=reason.value, live_citizen_id=None,
                sealed_key=DESTROYED)
    ).rowcount
    if revoked:
        record_event(EventTag.FIRMA_CERTIFICATES_REVOKED, _Holder(citizen_id),
                     certificates=revoked, reason=reason.value)
    return revoked


def current_crl() -> bytes:
    """The CRL (DER), made again only when a revocation was added since the last one, or
    when that one is ``CRL_REFRESH`` old: one small query per request, no signature."""
    ca = authority()
    now = clock.now()
    state = tuple(db.session.execute(
        db.select(func.count(), func.max(SigningCertificate.revoked_at))
        .where(SigningCertificate.revoked_at.is_not(None))).one())
    cached = ca.crl
    if cached is not None and cached[0] == state and now < cached[1]:
        return cached[2]
    with ca.lock:
        rows = db.session.execute(
            db.select(SigningCertificate.serial, SigningCertificate.revoked_at,
                      SigningCertificate.revocation_reason)
            .where(SigningCertificate.revoked_at.is_not(None), SigningCertificate.not_after > now)
            .order_by(SigningCertificate.id)).all()
        revoked = [(int(serial, 16), when, CRL_REASONS[RevocationReason(reason)])
                   for serial, when, reason in rows]
        der = sign_crl(ca, revoked, this_update=now, next_update=now + CRL_LIFETIME)
        ca.crl = (state, now + CRL_REFRESH, der)
    return der

