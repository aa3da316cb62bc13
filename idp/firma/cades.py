"""pyHanko's ``Signer`` around a citizen's opened key, with the CAdES signed attributes
(ETSI EN 319 122-1 baseline B): signing-certificate-v2; for a detached signature also the
signing time and the document's name as content-hints (RFC 2634 §2.9). PAdES takes the
same, without signing time (the PDF's signature dictionary carries it).

asn1crypto re-encodes a value each time it is copied into a bigger one: pyHanko's own
attributes cost milliseconds per signature for that alone, far more than the signature.
So the attributes are encoded once, the signing-certificate-v2 once per certificate, and
handed on as bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign import signers
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec, SigningTimeProvider
from pyhanko.sign.general import as_signing_certificate_v2, get_pyca_cryptography_hash, simple_cms_attribute
from pyhanko_certvalidator.registry import SimpleCertificateStore

CONTENT_HINTS = "1.2.840.113549.1.9.16.2.4"
NAME_LENGTH = 256

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def citizen_signer(key: PrivateKey, certificate_der: bytes, ca_der: bytes, *,
                   signing_time: datetime | None = None, content_name: str | None = None) -> CitizenSigner:
    certificate = asn1_x509.Certificate.load(certificate_der)
    signer = CitizenSigner(key, signing_cert=certificate,
                           cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(ca_der)]))
    signer.signed_attr_prov_spec = _SignedAttributes(certificate_der, signing_time, content_name)
    return signer


class CitizenSigner(signers.Signer):
    """Signs with a key already loaded (pyHanko's ``SimpleSigner`` loads it again from its
    encoding for every signature)."""

    def __init__(self, key: PrivateKey, **options: Any) -> None:
        super().__init__(**options)
        self._key = key

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        digest = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(data, ec.ECDSA(digest))
        return self._key.sign(data, padding.PKCS1v15(), digest)

    async def signed_attrs(self, *args: Any, **kwargs: Any) -> cms.CMSAttributes:
        attributes = await super().signed_attrs(*args, **kwargs)
        return cms.CMSAttributes.load(attributes.dump())  # encoded once, then copied as bytes


class _SignedAttributes(SignedAttributeProviderSpec):
    def __init__(self, certificate_der: bytes, signing_time: datetime | None,
                 content_name: str | None) -> None:
        self.certificate_der = certificate_der
        self.signing_time = signing_time
        self.content_name = content_name

    def signed_attr_providers(self, data_digest: bytes,
                              digest_algorithm: str) -> Iterator[CMSAttributeProvider]:
        yield _Encoded(_signing_certificate_v2(self.certificate_der))
        if self.signing_time is not None:
            yield SigningTimeProvider(timestamp=self.signing_time)
        if self.content_name is not None:
            yield _Encoded(_content_hints(self.content_name))


@lru_cache(maxsize=1024)
def _signing_certificate_v2(certificate_der: bytes) -> bytes:
    certificate = asn1_x509.Certificate.load(certificate_der)
    return simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(certificate)).dump()


class _ContentHints(core.Sequence):
    _fields = [("content_description", core.UTF8String, {"optional": True}),
               ("content_type", cms.ContentType)]


def _content_hints(name: str) -> bytes:
    value = _ContentHints({"content_description": name[:NAME_LENGTH], "content_type": "data"})
    return simple_cms_attribute(CONTENT_HINTS, value).dump()


class _Encoded(CMSAttributeProvider):
    """An attribute already encoded."""

    def __init__(self, der: bytes) -> None:
        self.der = der

    async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
        return cms.CMSAttribute.load(self.der)
