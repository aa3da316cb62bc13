"""``idp dev-certificates``: a test CA and a citizen certificate to try certificate
registration on a development machine. Never for production: the CA key sits unencrypted
next to its certificate.

The citizen certificate is shaped like an FNMT one (serialNumber ``IDCES-…``, GN, SN with
both surnames, CN "SURNAMES NAME - DNI", digitalSignature, clientAuth), so it exercises the
same paths as a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idp.clock import clock
from idp.documents import Document
from idp.files import private_dir, replace_private

CA_CERT, CA_KEY = "ca.pem", "ca-key.pem"


@dataclass(frozen=True)
class DevFiles:
    ca: Path
    certificate: Path
    key: Path
    pkcs12: Path


def _usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not signing, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=signing, crl_sign=signing, encipher_only=False,
                         decipher_only=False)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    if private:
        replace_private(path, data)
    else:
        path.write_bytes(data)


def _authority(out: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA of ``out``, made on the first run and reused after, so that a bundle already
    configured in IDP_TRUSTED_CA_FILE keeps trusting every certificate made later."""
    cert_path, key_path = out / CA_CERT, out / CA_KEY
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Clave IdP (development only)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Clave IdP development CA")])
    now = clock.now()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(signing=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), private=True)
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def make_dev_certificates(out: Path, document: Document, *, given_name: str, surnames: str,
                          password: str) -> DevFiles:
    """A citizen certificate for ``document`` (PEM, key, and a PKCS#12 for a browser)."""
    private_dir(out)
    ca_cert, ca_key = _authority(out)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "ES"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IDCES-{document.number}"),
        x509.NameAttribute(NameOID.SURNAME, surnames),
        x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{surnames} {given_name} - {document.number}"),
    ])
    now = clock.now()
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signing=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = DevFiles(out / CA_CERT, out / f"{document.number}.pem", out / f"{document.number}-key.pem",
                     out / f"{document.number}.p12")
    _write(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    _write(files.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()), private=True)
    _write(files.pkcs12, pkcs12.serialize_key_and_certificates(
        f"{given_name} {surnames}".encode(), key, certificate, [ca_cert],
        serialization.BestAvailableEncryption(password.encode())), private=True)
    return files


def instructions(files: DevFiles, *, header: str, issuer: str, password: str) -> str:
    """How to try the certificate pages with these files, printed by the command."""
    encode = ("python3 -c 'import sys, urllib.parse; "
              "print(urllib.parse.quote(open(sys.argv[1]).read(), safe=\"\"))'")
    curl = f'curl -s -c jar.txt -b jar.txt -H "{header}: $CERT"'
    csrf_from_page = "sed -n 's/.*name=\"csrf_token\" value=\"\\([^\"]*\\)\".*/\\1/p' | head -n 1"
    return f"""Development certificates (never use them in production):
  CA to trust:          {files.ca}
  Citizen certificate:  {files.certificate}   (key {files.key})
  For a browser:        {files.pkcs12}   (password: {password})

Serve the IdP trusting this CA and the certificate header sent from this machine:
  IDP_TRUSTED_CA_FILE={files.ca} IDP_TRUSTED_PROXIES=127.0.0.1 make run

Present the certificate as the TLS terminator would (URL-encoded PEM in {header}):
  CERT=$({encode} {files.certificate})
  TOKEN=$({curl} {issuer}/register/certificate | {csrf_from_page})
  {curl} --data-urlencode csrf_token="$TOKEN" --data-urlencode email=ana@example.org \\
       --data-urlencode phone=+34600123456 --data-urlencode contrast_data=01012031 \\
       {issuer}/register/certificate
For /activation-code/regenerate, fetch its page for TOKEN the same way and post only csrf_token.
The demo citizen is registered already: the registration page says so. For a new registration,
run this command again with --document, --given-name and --surnames of someone else.
"""
