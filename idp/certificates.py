"""Recognised digital certificates (SPEC §3.1b): who a client certificate says the citizen is.

Pure: no Flask. The TLS terminator has already checked the certificate, but we verify it
again against our own CA bundle (defence in depth: a misconfigured proxy or a forged header
must not be enough to register someone). The verification answers one of a few reasons,
each a message key, so the page can tell the citizen exactly what is wrong.

Names. Spanish certificates carry the given name in GN (givenName) and the surnames in SN
(surname), but not all alike: FNMT citizen certificates put both surnames in SN and write
the CN as "SURNAME1 SURNAME2 NAME - 12345678Z"; the DNIe's authentication certificate puts
only the first surname in SN and writes the CN as "SURNAME1 SURNAME2, NAME (AUTENTICACIÓN)".
So:

* the given name is GN; without GN, it is read from the CN (after the comma, or what
  follows the SN);
* the surnames are SN, unless the CN spells out more of them starting with SN (the DNIe
  form): then SN is the first surname and the rest of the CN's surnames the second;
* SN holding both surnames is split on whitespace, keeping the particles of compound
  surnames ("DE LA FUENTE", "DEL RÍO", "SAN MARTÍN") with the word they introduce. Two
  words give first and second surname; one gives a first surname only; with more words
  the first is the first surname and the rest the second. The two together always equal
  SN, so ``family_name`` is right whatever the split.

Names are kept as the certificate writes them (usually upper case): re-casing would be a
guess ("DE LA FUENTE" → "De La Fuente" is wrong), and the certificate is the authority.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from idp.documents import Document, InvalidDocument, parse_document

MAX_HEADER_LENGTH = 64 * 1024
# ETSI EN 319 412-1 "semantics identifier" for a national identity card number.
_NATIONAL_ID_PREFIX = "IDCES-"
_PARTICLES = {"DE", "DEL", "LA", "LAS", "LOS", "SAN", "SANTA"}
_CN_DOCUMENT_SUFFIX = re.compile(r"\s+-\s+\S+$")
_CN_PURPOSE_SUFFIX = re.compile(r"\s*\([^)]*\)$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CertificateRefused(Exception):
    """Why a certificate does not identify a citizen; ``reason`` is a message key."""

    MALFORMED = "certificate_malformed"
    UNTRUSTED = "certificate_untrusted"
    EXPIRED = "certificate_expired"
    NOT_YET_VALID = "certificate_not_yet_valid"
    WRONG_USAGE = "certificate_wrong_usage"
    NO_DOCUMENT = "certificate_no_document"  # no valid DNI/NIE, or no name

    def __init__(self, reason: str, certificate: x509.Certificate | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fingerprint = fingerprint(certificate) if certificate is not None else None


@dataclass(frozen=True)
class CertificateIdentity:
    document: Document
    given_name: str
    first_surname: str
    second_surname: str | None
    fingerprint: str  # SHA-256 of the DER, for the audit trail (not a secret)
    issuer: str

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.first_surname, self.second_surname) if p)


# -- reading ------------------------------------------------------------------------------

def decode_header(value: str) -> bytes:
    """The PEM of a client-certificate header: nginx's ``$ssl_client_escaped_cert`` is
    the URL-encoded PEM (``unquote``, not ``unquote_plus``: base64 has '+')."""
    if len(value) > MAX_HEADER_LENGTH:
        raise CertificateRefused(CertificateRefused.MALFORMED)
    return unquote(value.strip()).encode("ascii", "replace")


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """The client certificate first, then any intermediates sent along with it."""
    try:
        certificates = x509.load_pem_x509_certificates(pem)
        for certificate in certificates:  # parsed when first read: read them now
            len(certificate.extensions), len(certificate.subject)
    except ValueError as error:
        raise CertificateRefused(CertificateRefused.MALFORMED) from error
    return certificates


def load_trust_anchors(pem: bytes) -> list[x509.Certificate]:
    """The CA bundle of ``IDP_TRUSTED_CA_FILE``; an empty file trusts nothing."""
    return x509.load_pem_x509_certificates(pem) if pem.strip() else []


def fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


# -- verifying ----------------------------------------------------------------------------

def verify(pem: bytes, anchors: Sequence[x509.Certificate], now: datetime) -> CertificateIdentity:
    """The identity of a client certificate, or ``CertificateRefused``.

    Trust is checked first, at a moment inside the certificate's own validity, so that an
    expired certificate from an unknown CA is "untrusted" rather than "expired"; then its
    dates against ``now``; then its usage; then what it says about the holder.
    """
    leaf, *intermediates = load_certificates(pem)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    _check_chain(leaf, intermediates, anchors, now)
    if now > leaf.not_valid_after_utc:
        raise CertificateRefused(CertificateRefused.EXPIRED, leaf)
    if now < leaf.not_valid_before_utc:
        raise CertificateRefused(CertificateRefused.NOT_YET_VALID, leaf)
    if not is_for_client_authentication(leaf):
        raise CertificateRefused(CertificateRefused.WRONG_USAGE, leaf)
    return identity(leaf)


def _check_chain(leaf: x509.Certificate, intermediates: list[x509.Certificate],
                 anchors: Sequence[x509.Certificate], now: datetime) -> None:
    """A chain from ``leaf`` to one of ``anchors`` (signatures, CA constraints, every CA
    valid), built by cryptography's verifier. The CAs get the Web PKI's checks; the leaf's
    extensions are ours to check (``is_for_client_authentication``): Spanish citizen
    certificates often have no subjectAltName, which the Web PKI policy demands."""
    if not anchors:
        raise CertificateRefused(CertificateRefused.UNTRUSTED, leaf)
    moment = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(anchors)))
        .time(moment)
        .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                            ee_policy=verification.ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as error:
        raise CertificateRefused(CertificateRefused.UNTRUSTED, leaf) from error


def is_for_client_authentication(certificate: x509.Certificate) -> bool:
    """An end-entity certificate whose key may sign (digitalSignature) for TLS client
    authentication (extended key usage clientAuth): not a CA, not an encryption-only or
    a qualified-signature-only (nonRepudiation) certificate."""
    extensions = certificate.extensions
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
        extended = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return key_usage.digital_signature and ExtendedKeyUsageOID.CLIENT_AUTH in extended


# -- the holder ---------------------------------------------------------------------------

def identity(certificate: x509.Certificate) -> CertificateIdentity:
    subject = certificate.subject
    document = document_from_serial_number(_attribute(subject, NameOID.SERIAL_NUMBER))
    if document is None:
        raise CertificateRefused(CertificateRefused.NO_DOCUMENT, certificate)
    names = holder_names(given_name=_attribute(subject, NameOID.GIVEN_NAME),
                         surname=_attribute(subject, NameOID.SURNAME),
                         common_name=_attribute(subject, NameOID.COMMON_NAME))
    if names is None:
        raise CertificateRefused(CertificateRefused.NO_DOCUMENT, certificate)
    issuer = _attribute(certificate.issuer, NameOID.COMMON_NAME) or certificate.issuer.rfc4514_string()
    return CertificateIdentity(document, *names, fingerprint=fingerprint(certificate), issuer=issuer)


def document_from_serial_number(value: str) -> Document | None:
    """``IDCES-12345678Z`` or ``12345678Z``, control letter checked; anything else (a
    passport number, a company's tax id) is no DNI/NIE."""
    value = value.strip().upper()
    if value.startswith(_NATIONAL_ID_PREFIX):
        value = value[len(_NATIONAL_ID_PREFIX):]
    try:
        return parse_document(value)
    except InvalidDocument:
        return None


def holder_names(*, given_name: str, surname: str,
                 common_name: str) -> tuple[str, str, str | None] | None:
    """(given name, first surname, second surname) as the module docstring explains."""
    given, surname = _words(given_name), _words(surname)
    cn = _CN_DOCUMENT_SUFFIX.sub("", _CN_PURPOSE_SUFFIX.sub("", _words(common_name)))
    cn_surnames, comma, cn_given = (part.strip() for part in cn.partition(","))
    if comma:  # "SURNAMES, NAME" (DNIe): already split
        pass
    elif given and _ends_with(cn, given):  # "SURNAMES NAME" (FNMT)
        cn_surnames, cn_given = cn[: -len(given)].strip(), given
    elif surname and _starts_with(cn, surname):  # the same, without GN
        cn_surnames, cn_given = surname, cn[len(surname):].strip()
    else:  # some other form: the CN tells us nothing reliable
        cn_surnames, cn_given = "", ""
    given = given or cn_given
    if not given:
        return None
    if surname and len(cn_surnames) > len(surname) and _starts_with(cn_surnames, surname):
        return given, surname, cn_surnames[len(surname):].strip()
    first, second = split_surnames(surname or cn_surnames)
    return (given, first, second) if first else None


def split_surnames(surnames: str) -> tuple[str, str | None]:
    """"GARCÍA DE LA FUENTE" → ("GARCÍA", "DE LA FUENTE"); "PÉREZ" → ("PÉREZ", None)."""
    groups: list[str] = []
    pending: list[str] = []
    for word in _words(surnames).split():
        pending.append(word)
        if word.upper() not in _PARTICLES:
            groups.append(" ".join(pending))
            pending = []
    if pending:  # trailing particles belong to the last surname
        groups.append(" ".join(([groups.pop()] if groups else []) + pending))
    if not groups:
        return "", None
    return groups[0], " ".join(groups[1:]) or None


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    value = values[0].value if values else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _words(text: str) -> str:
    return " ".join((text or "").split())


def _starts_with(text: str, prefix: str) -> bool:
    """Whether ``text`` begins with the words of ``prefix`` (any case)."""
    head, rest = text[: len(prefix)], text[len(prefix):]
    return bool(prefix) and head.casefold() == prefix.casefold() and rest[:1] in ("", " ")


def _ends_with(text: str, suffix: str) -> bool:
    """Whether ``text`` ends with the words of ``suffix`` after at least one other word."""
    head, tail = text[: -len(suffix)], text[-len(suffix):]
    return bool(suffix) and tail.casefold() == suffix.casefold() and head.endswith(" ")


# -- who may pass a certificate -----------------------------------------------------------

def parse_networks(text: str) -> tuple[Network, ...]:
    """``IDP_TRUSTED_PROXIES``: comma-separated addresses or CIDR networks (ValueError when
    one is neither)."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in (text or "").split(",") if item.strip())


def is_trusted_peer(address: str | None, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False  # no TCP peer (a Unix socket) or nonsense: never trusted
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)
