"""Certification authorities and citizen certificates made on the spot with ``cryptography``.

Independent of ``idp.dev_certificates`` on purpose: the certificates the tests refuse must
be built by code that is not the code under test. EC P-256 keys: quick to generate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idp.clock import clock

CLIENT_AUTH = [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]


def _now() -> datetime:
    return clock.now()


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False,
               key_cert_sign: bool = False, crl_sign: bool = False,
               key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=content_commitment,
                         key_encipherment=key_encipherment, data_encipherment=False,
                         key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=crl_sign,
                         encipher_only=False, decipher_only=False)


@dataclass
class Authority:
    """A CA that issues citizen certificates the way the FNMT does (subject with
    serialNumber IDCES-…, GN, SN with both surnames, CN "SURNAMES NAME - DNI")."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, *, serial_number: str | None = "IDCES-12345678Z", given_name: str | None = "MARÍA",
              surname: str | None = "GARCÍA LÓPEZ", common_name: str | None = None,
              not_before: datetime | None = None, not_after: datetime | None = None,
              extended_key_usage: list[x509.ObjectIdentifier] | None = None,
              digital_signature: bool = True, ca: bool = False,
              extra: x509.ExtensionType | None = None,
              key: ec.EllipticCurvePrivateKey | None = None) -> x509.Certificate:
        """A citizen's certificate (for ``key``, which a TLS client needs, or a new key)."""
        now = _now()
        key = key or ec.generate_private_key(ec.SECP256R1())
        document = (serial_number or "").removeprefix("IDCES-")
        if common_name is None:
            common_name = f"{surname} {given_name} - {document}"
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "ES")]
        for oid, value in ((NameOID.SERIAL_NUMBER, serial_number), (NameOID.SURNAME, surname),
                           (NameOID.GIVEN_NAME, given_name), (NameOID.COMMON_NAME, common_name)):
            if value:
                attributes.append(x509.NameAttribute(oid, value))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - timedelta(days=30))
            .not_valid_after(not_after or now + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=digital_signature,
                                      content_commitment=not digital_signature,
                                      key_cert_sign=ca), critical=True)
            .add_extension(x509.ExtendedKeyUsage(CLIENT_AUTH if extended_key_usage is None
                                                 else extended_key_usage), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
        )
        if extra is not None:
            builder = builder.add_extension(extra, critical=False)
        return builder.sign(self.key, hashes.SHA256())


    def server(self, *names: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A TLS server certificate for the host ``names``, and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return certificate, key


def make_authority(name: str = "AC Pruebas Ciudadanos", *, valid_days: int = 3650) -> Authority:
    """A self-signed root CA, valid from a year ago."""
    now = _now()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Pruebas"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365))
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def escaped(certificate: x509.Certificate) -> str:
    """The header value nginx sends (``$ssl_client_escaped_cert``): the URL-encoded PEM."""
    return quote(pem(certificate).decode(), safe="")
