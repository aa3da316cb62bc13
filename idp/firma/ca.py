"""The deployment's Cl@ve Firma CA: made once by ``idp init``, kept in ``IDP_KEYS_DIR``.

``firma-ca.pem`` holds the CA's private key (PKCS#8, encrypted with ``IDP_KEYS_PASSPHRASE``
when that is set) followed by its self-signed certificate, in one file created 0600 in one
step (``idp.files.create_private``): a process starting at the same moment finds the whole
CA or none, never a key without its certificate. Every process loads it once.

The CA signs citizens' certificates (``idp.firma.pki``) and the CRL, and nothing else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from idp.clock import clock
from idp.files import create_private, private_dir, tighten

CA_FILE = "firma-ca.pem"
KEY_TYPES = ("P-256", "RSA-3072")
CA_YEARS = 10
CA_NAME = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Clave IdP"),
    x509.NameAttribute(NameOID.COMMON_NAME, "Cl@ve Firma CA"),
])
_CERTIFICATE_PEM = b"-----BEGIN CERTIFICATE-----"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_key(key_type: str) -> PrivateKey:
    if key_type == "P-256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "RSA-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise ValueError(f"unknown key type {key_type!r}: one of {', '.join(KEY_TYPES)}")


def utc(moment: datetime) -> datetime:
    """``clock.now()`` (naive UTC) as the aware datetime certificates are made with."""
    return moment.replace(tzinfo=UTC)


def _self_signed(key: PrivateKey) -> x509.Certificate:
    now = utc(clock.now())
    public = key.public_key()
    return (x509.CertificateBuilder()
            .subject_name(CA_NAME).issuer_name(CA_NAME).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))


def ensure_ca(keys_dir: Path, passphrase: str = "", key_type: str = "P-256") -> bool:
    """Create the CA when there is none (idempotent); True when this call created it."""
    private_dir(keys_dir)
    path = keys_dir / CA_FILE
    if path.exists():
        tighten(path)
        return False
    key = generate_key(key_type)
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return create_private(path, pem + _self_signed(key).public_bytes(serialization.Encoding.PEM))


@dataclass
class Authority:
    """The CA as a process holds it: its key, its certificate, and the CRL last made."""

    key: PrivateKey
    certificate: x509.Certificate
    certificate_der: bytes
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (what the revocations looked like, when it must be made again, the DER)
    crl: tuple[object, datetime, bytes] | None = None


def load_ca(keys_dir: Path, passphrase: str = "") -> Authority:
    path = keys_dir / CA_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise RuntimeError(f"no Cl@ve Firma CA in {keys_dir}/: run `idp init`") from error
    key_pem, _, certificate_pem = data.partition(_CERTIFICATE_PEM)
    key = serialization.load_pem_private_key(key_pem, password=passphrase.encode() or None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise RuntimeError(f"{path}: not an EC or RSA key")
    certificate = x509.load_pem_x509_certificate(_CERTIFICATE_PEM + certificate_pem)
    return Authority(key, certificate, certificate.public_bytes(serialization.Encoding.DER))


def sign_crl(authority: Authority, revoked: list[tuple[int, datetime, x509.ReasonFlags]], *,
             this_update: datetime, next_update: datetime) -> bytes:
    """A complete CRL (DER) of ``revoked`` (serial, when, why). Its number is the time it was
    made in milliseconds: any process can make one, and a later CRL always has a higher
    number (RFC 5280 §5.2.3) without a counter shared between processes."""
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(authority.certificate.subject)
               .last_update(utc(this_update)).next_update(utc(next_update))
               .add_extension(x509.CRLNumber(int(utc(this_update).timestamp() * 1000)), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   authority.key.public_key()), critical=False))
    for serial, when, reason in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(utc(when))
            .add_extension(x509.CRLReason(reason), critical=False).build())
    return builder.sign(authority.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
