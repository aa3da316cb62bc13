"""``idp dev-certificates``: a test CA and a citizen certificate to try certificate
registration on a development machine. Never for production: the CA key sits unencrypted
next to its certificate.

The citizen certificate is shaped like an FNMT one (serialNumber ``IDCES-…``, GN, SN with
both surnames, CN "SURNAMES NAME - DNI", digitalSignature, clientAuth), so it exercises the
same paths as a real one.
"""

from __future__ import annotations

import shlex
import unicodedata
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


def holder_email(given_name: str, surnames: str) -> str:
    """An example address made of the holder's name: "María", "García López" →
    maria.garcia@example.org."""
    def plain(text: str) -> str:
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return "".join(c for c in folded.lower() if c.isalnum())
    return f"{plain(given_name)}.{plain(surnames.split()[0] if surnames.split() else '')}@example.org"


@dataclass(frozen=True)
class Holder:
    """Who the certificate is for, and what they type in the registration form."""
    name: str
    document: str
    email: str
    phone: str
    contrast_data: str


# Shell helpers of the printed lines: the PEM URL-encoded for the header, the CSRF token of a
# page, and the activation code of an answer (its groups, joined as the receipt shows them).
_URL_ENCODE = (r"""python3 -c 'import sys, urllib.parse; """
               r"""print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))'""")
_FORM_KEY = (r"""token() { ask "$1" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' """
             r"""| head -n 1; }""")
_CODE = (r"""code() { grep -o 'code-group">[^<]*' | cut -d'>' -f2 | paste -sd- - | grep . """
         r"""|| echo "No activation code: the page refused (run the line without | code to read why)."; }""")


def instructions(files: DevFiles, holder: Holder, *, header: str, issuer: str, password: str) -> str:
    """What the command prints: ready-to-run lines that register the holder with the
    certificate and regenerate their activation code, cookies kept beside the files."""
    q = shlex.quote
    jar = files.certificate.with_name(f"{holder.document}-cookies.txt")
    register, regenerate = f"{issuer}/register/certificate", f"{issuer}/activation-code/regenerate"
    fields = " ".join(f"--data-urlencode {q(f'{name}={value}')}" for name, value in (
        ("email", holder.email), ("phone", holder.phone), ("contrast_data", holder.contrast_data)))
    return f"""Development certificates (never use them in production):
  CA to trust:   {files.ca}
  Certificate:   {files.certificate}   (key {files.key})
                 {holder.name}, DNI/NIE {holder.document}
  For a browser: {files.pkcs12}   (password: {password})

Serve the IdP trusting this CA and the certificate header sent from this machine:

  IDP_TRUSTED_CA_FILE={q(str(files.ca))} IDP_TRUSTED_PROXIES=127.0.0.1 make run

In another terminal, from this directory, play the TLS terminator: these lines send the
certificate (URL-encoded PEM in {header}) and keep the cookies in {jar}.

  CERT=$({_URL_ENCODE} {q(str(files.certificate))})
  JAR={q(str(jar))}
  ask() {{ curl -s -c "$JAR" -b "$JAR" -H "{header}: $CERT" "$@"; }}
  {_FORM_KEY}
  {_CODE}

Registration act with this certificate, as {holder.name} (prints the activation code;
the demo citizen is registered already, so the page refuses):

  ask --data-urlencode csrf_token="$(token {register})" {fields} {register} | code

New activation code for {holder.name}, once registered (the old one stops working at once):

  ask --data-urlencode csrf_token="$(token {regenerate})" {regenerate} | code

For someone else, run this command again with --document, --given-name and --surnames (and
--email, --phone, --contrast-data): the CA stays the same, so the IdP keeps trusting it.
"""
