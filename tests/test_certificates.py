"""Reading and verifying recognised digital certificates, and the development certificates
of ``idp dev-certificates`` (no app, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from idp.certificates import (
    CertificateRefused,
    decode_header,
    holder_names,
    is_trusted_peer,
    load_trust_anchors,
    parse_networks,
    split_surnames,
    verify,
)
from idp.cli import main
from idp.clock import clock
from tests.support.pki import Authority, escaped, make_authority, pem


@pytest.fixture(scope="module")
def authority() -> Authority:
    return make_authority()


def now() -> datetime:
    return clock.now()


def refusal(authority: Authority, data: bytes, *, at: datetime | None = None,
            anchors: list | None = None) -> str:  # type: ignore[type-arg]
    with pytest.raises(CertificateRefused) as refused:
        verify(data, [authority.certificate] if anchors is None else anchors, at or now())
    return refused.value.reason


def test_a_valid_certificate_gives_the_document_and_names(authority):
    identity = verify(pem(authority.issue()), [authority.certificate], now())
    assert identity.document.number == "12345678Z"
    assert (identity.given_name, identity.first_surname, identity.second_surname) == \
        ("MARÍA", "GARCÍA", "LÓPEZ")
    assert len(identity.fingerprint) == 64 and identity.issuer == "AC Pruebas Ciudadanos"


def test_the_verification_time_is_the_one_passed_in_not_the_wall_clock(authority):
    certificate = authority.issue(not_after=now() + timedelta(days=1))
    assert verify(pem(certificate), [authority.certificate], now())
    assert refusal(authority, pem(certificate), at=now() + timedelta(days=2)) == "certificate_expired"


def test_an_aware_time_is_accepted_as_well_as_naive_utc(authority):
    assert verify(pem(authority.issue()), [authority.certificate], datetime.now(UTC))


def test_the_url_encoded_header_of_nginx_decodes_to_the_pem(authority):
    certificate = authority.issue()
    assert decode_header(escaped(certificate)) == pem(certificate)


def test_an_expired_certificate_is_refused_as_expired(authority):
    expired = authority.issue(not_before=now() - timedelta(days=400), not_after=now() - timedelta(days=1))
    assert refusal(authority, pem(expired)) == "certificate_expired"


def test_a_certificate_not_yet_valid_is_refused_as_such(authority):
    early = authority.issue(not_before=now() + timedelta(days=1), not_after=now() + timedelta(days=400))
    assert refusal(authority, pem(early)) == "certificate_not_yet_valid"


def test_a_certificate_from_another_ca_is_untrusted(authority):
    stranger = make_authority("AC Desconocida").issue()
    assert refusal(authority, pem(stranger)) == "certificate_untrusted"


def test_a_ca_with_the_same_name_but_another_key_is_untrusted(authority):
    impostor = make_authority("AC Pruebas Ciudadanos").issue()
    assert refusal(authority, pem(impostor)) == "certificate_untrusted"


def test_an_expired_certificate_from_an_unknown_ca_is_untrusted_not_expired(authority):
    stranger = make_authority("AC Desconocida").issue(not_after=now() - timedelta(days=1))
    assert refusal(authority, pem(stranger)) == "certificate_untrusted"


def test_no_trusted_ca_configured_trusts_nothing(authority):
    assert refusal(authority, pem(authority.issue()), anchors=[]) == "certificate_untrusted"


@pytest.mark.parametrize("usage", [
    {"extended_key_usage": [ExtendedKeyUsageOID.EMAIL_PROTECTION]},
    {"extended_key_usage": [ExtendedKeyUsageOID.SERVER_AUTH]},
    {"digital_signature": False},
    {"ca": True},
], ids=["email-only", "server-auth", "non-repudiation-only", "a-ca"])
def test_a_certificate_not_for_client_authentication_has_the_wrong_usage(authority, usage):
    assert refusal(authority, pem(authority.issue(**usage))) == "certificate_wrong_usage"


@pytest.mark.parametrize("data", [b"", b"not a certificate",
                                  b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_a_malformed_pem_is_refused_as_malformed(authority, data):
    assert refusal(authority, data) == "certificate_malformed"


def test_a_certificate_with_an_unreadable_extension_is_malformed(authority):
    garbage = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x01\x02junk")
    assert refusal(authority, pem(authority.issue(extra=garbage))) == "certificate_malformed"


def test_a_header_too_long_to_be_a_certificate_is_malformed():
    with pytest.raises(CertificateRefused) as refused:
        decode_header("A" * 70000)
    assert refused.value.reason == "certificate_malformed"


@pytest.mark.parametrize("serial_number,document", [
    ("IDCES-12345678Z", "12345678Z"), ("12345678Z", "12345678Z"), ("IDCES-X1234567L", "X1234567L"),
])
def test_the_document_comes_from_the_serial_number_with_or_without_the_idces_prefix(
        authority, serial_number, document):
    certificate = authority.issue(serial_number=serial_number, common_name="GARCÍA LÓPEZ MARÍA")
    assert verify(pem(certificate), [authority.certificate], now()).document.number == document


@pytest.mark.parametrize("serial_number", [None, "IDCES-12345678A", "PASES-AB123456", "VATES-B12345678"])
def test_a_certificate_without_a_valid_dni_or_nie_identifies_no_citizen(authority, serial_number):
    certificate = authority.issue(serial_number=serial_number, common_name="GARCÍA LÓPEZ MARÍA")
    assert refusal(authority, pem(certificate)) == "certificate_no_document"


def test_a_certificate_without_any_name_identifies_no_citizen(authority):
    certificate = authority.issue(given_name=None, surname=None, common_name="12345678Z")
    assert refusal(authority, pem(certificate)) == "certificate_no_document"


@pytest.mark.parametrize("given_name,surname,common_name,expected", [
    # FNMT: both surnames in SN, CN "SURNAMES NAME - DNI"
    ("MARÍA", "GARCÍA LÓPEZ", "GARCÍA LÓPEZ MARÍA - 12345678Z", ("MARÍA", "GARCÍA", "LÓPEZ")),
    # DNIe: the first surname in SN, both in CN "SURNAMES, NAME (PURPOSE)"
    ("JUAN", "ESPAÑOL", "ESPAÑOL ESPAÑOL, JUAN (AUTENTICACIÓN)", ("JUAN", "ESPAÑOL", "ESPAÑOL")),
    ("JUAN", "ESPAÑOL", "ESPAÑOL ESPAÑOL JUAN - 12345678Z", ("JUAN", "ESPAÑOL", "ESPAÑOL")),
    # compound given name and compound surnames
    ("MARÍA JOSÉ", "DE LA FUENTE DEL RÍO", "DE LA FUENTE DEL RÍO MARÍA JOSÉ - 12345678Z",
     ("MARÍA JOSÉ", "DE LA FUENTE", "DEL RÍO")),
    # one surname only
    ("ANNA", "SMITH", "SMITH ANNA - X1234567L", ("ANNA", "SMITH", None)),
    # no GN: the name is what follows SN in the CN, or what follows the comma
    ("", "GARCÍA LÓPEZ", "GARCÍA LÓPEZ MARÍA - 12345678Z", ("MARÍA", "GARCÍA", "LÓPEZ")),
    ("", "", "GARCÍA LÓPEZ, MARÍA (AUTENTICACIÓN)", ("MARÍA", "GARCÍA", "LÓPEZ")),
    # a CN that contradicts SN does not override it
    ("JUAN", "PÉREZ", "GÓMEZ PÉREZ JUAN - 12345678Z", ("JUAN", "PÉREZ", None)),
    # whitespace is tidied
    ("  MARÍA ", "GARCÍA   LÓPEZ", "", ("MARÍA", "GARCÍA", "LÓPEZ")),
])
def test_names_come_from_gn_and_sn_with_the_cn_as_a_fallback(given_name, surname, common_name, expected):
    assert holder_names(given_name=given_name, surname=surname, common_name=common_name) == expected


def test_without_a_given_name_anywhere_there_is_no_name():
    assert holder_names(given_name="", surname="GARCÍA LÓPEZ", common_name="GARCÍA LÓPEZ") is None


@pytest.mark.parametrize("surnames,expected", [
    ("GARCÍA LÓPEZ", ("GARCÍA", "LÓPEZ")),
    ("GARCÍA", ("GARCÍA", None)),
    ("GARCÍA DE LA FUENTE", ("GARCÍA", "DE LA FUENTE")),
    ("SAN MARTÍN LÓPEZ", ("SAN MARTÍN", "LÓPEZ")),
    ("PÉREZ-REVERTE GUTIÉRREZ", ("PÉREZ-REVERTE", "GUTIÉRREZ")),
    ("GARCÍA LÓPEZ MARTÍN", ("GARCÍA", "LÓPEZ MARTÍN")),
    ("GARCÍA DE", ("GARCÍA DE", None)),
    ("", ("", None)),
])
def test_surnames_split_on_whitespace_keeping_compound_particles(surnames, expected):
    assert split_surnames(surnames) == expected


def test_trusted_proxies_are_addresses_or_networks_and_nothing_else():
    networks = parse_networks("127.0.0.1, 10.0.0.0/8,::1")
    assert is_trusted_peer("127.0.0.1", networks)
    assert is_trusted_peer("10.20.30.40", networks)
    assert is_trusted_peer("::1", networks)
    assert is_trusted_peer("::ffff:10.0.0.1", networks)
    assert not is_trusted_peer("192.168.1.1", networks)
    assert not is_trusted_peer("", networks)
    assert not is_trusted_peer(None, networks)
    assert not is_trusted_peer("127.0.0.1", parse_networks(""))
    with pytest.raises(ValueError):
        parse_networks("127.0.0.1, proxy.example")


def test_the_development_certificates_are_accepted_and_importable_in_a_browser(tmp_path):
    result = CliRunner().invoke(main, ["dev-certificates", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "IDP_TRUSTED_PROXIES=127.0.0.1" in result.output
    anchors = load_trust_anchors((tmp_path / "ca.pem").read_bytes())
    identity = verify((tmp_path / "12345678Z.pem").read_bytes(), anchors, now())
    assert (identity.document.number, identity.first_surname, identity.second_surname) == \
        ("12345678Z", "García", "López")
    bundle = pkcs12.load_pkcs12((tmp_path / "12345678Z.p12").read_bytes(), b"demo")
    assert bundle.cert is not None and bundle.key is not None


def test_more_development_certificates_come_from_the_same_ca(tmp_path):
    CliRunner().invoke(main, ["dev-certificates", "--out", str(tmp_path)])
    anchors = load_trust_anchors((tmp_path / "ca.pem").read_bytes())
    again = CliRunner().invoke(main, ["dev-certificates", "--out", str(tmp_path), "--document",
                                      "00000023T", "--given-name", "Ana", "--surnames", "Ruiz"])
    assert again.exit_code == 0, again.output
    assert verify((tmp_path / "00000023T.pem").read_bytes(), anchors, now()).given_name == "Ana"
