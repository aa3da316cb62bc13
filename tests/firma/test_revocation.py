"""When the credential ends (unsubscribe, a password reset) the citizen's certificate is
revoked: the CRL published at /firma/crl lists it and pyHanko, checking revocation with
that CRL, reports their signature revoked. The CRL is signed once per change, not per
request."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from idp.audit import EventTag
from idp.extensions import db
from idp.firma.identity import signer_identity
from idp.firma.models import SigningCertificate
from idp.firma.signer import sign_pdf
from idp.models import AuditEvent
from tests.factories import make_citizen
from tests.firma.support import fetch_published, make_pdf, pyhanko_status
from tests.flows.support import choose_password, fill, pass_sms
from tests.support.browser import is_sms_page


def signed_by(person) -> bytes:  # type: ignore[no-untyped-def]
    signed = sign_pdf(signer_identity(person.citizen), make_pdf())
    db.session.commit()
    return signed


def certificate_serial(person) -> int:  # type: ignore[no-untyped-def]
    row = db.session.scalar(db.select(SigningCertificate).filter_by(citizen_id=person.citizen.id)
                            .order_by(SigningCertificate.id))
    return int(row.serial, 16)


def listed(crl_der: bytes) -> set[int]:
    return {entry.serial_number for entry in x509.load_der_x509_crl(crl_der)}


def unsubscribe(browser, sms_file, person) -> None:  # type: ignore[no-untyped-def]
    assert is_sms_page(fill(browser, "/unsubscribe", document=person.document,
                            password=person.password), "/unsubscribe/otp")
    assert pass_sms(browser, "/unsubscribe/otp", sms_file).headers["Location"] == "/unsubscribe/confirm"
    assert fill(browser, "/unsubscribe/confirm").status_code == 200


def reset_password(browser, sms_file, person) -> None:  # type: ignore[no-untyped-def]
    assert is_sms_page(fill(browser, "/password/forgot", document=person.document,
                            activation_code=person.activation_code), "/password/forgot/otp")
    pass_sms(browser, "/password/forgot/otp", sms_file)
    assert choose_password(browser, "/password/forgot/new").status_code == 200


def change_password(browser, sms_file, person) -> None:  # type: ignore[no-untyped-def]
    assert is_sms_page(fill(browser, "/password/change", document=person.document,
                            password=person.password), "/password/change/otp")
    pass_sms(browser, "/password/change/otp", sms_file)
    assert choose_password(browser, "/password/change/new").status_code == 200


def test_a_signature_is_valid_when_revocation_is_checked_with_the_published_crl(browser):
    signed = signed_by(make_citizen())

    status = pyhanko_status(signed, fetch_published(browser), check_revocation=True)

    assert (status.intact, status.valid, status.trusted, status.revoked) == (True, True, True, False)


def test_after_unsubscribe_the_crl_lists_the_certificate_and_pyhanko_reports_it_revoked(
        browser, sms_file):
    person = make_citizen()
    signed = signed_by(person)

    unsubscribe(browser, sms_file, person)

    published = fetch_published(browser)
    assert certificate_serial(person) in listed(published.crl_der)
    status = pyhanko_status(signed, published, check_revocation=True)
    assert status.revoked and not status.bottom_line
    [entry] = x509.load_der_x509_crl(published.crl_der)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.cessation_of_operation


def test_after_a_password_reset_the_crl_lists_the_certificate_and_pyhanko_reports_it_revoked(
        browser, sms_file):
    person = make_citizen()
    signed = signed_by(person)

    reset_password(browser, sms_file, person)

    published = fetch_published(browser)
    assert certificate_serial(person) in listed(published.crl_der)
    assert pyhanko_status(signed, published, check_revocation=True).revoked
    event = db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.FIRMA_CERTIFICATES_REVOKED))
    assert (event.citizen_id, event.detail) == (person.citizen.id,
                                                {"certificates": 1, "reason": "password_reset"})


def test_a_password_change_leaves_the_certificate_valid(browser, sms_file):
    person = make_citizen()
    signed = signed_by(person)

    change_password(browser, sms_file, person)

    published = fetch_published(browser)
    assert listed(published.crl_der) == set()
    assert not pyhanko_status(signed, published, check_revocation=True).revoked


def test_the_next_signature_after_a_revocation_makes_a_new_key_and_certificate(browser, sms_file):
    person = make_citizen()
    first = signed_by(person)
    reset_password(browser, sms_file, person)

    second = signed_by(person)

    published = fetch_published(browser)
    assert pyhanko_status(first, published, check_revocation=True).revoked
    renewed = pyhanko_status(second, published, check_revocation=True)
    assert renewed.bottom_line and not renewed.revoked
    rows = db.session.scalars(db.select(SigningCertificate).filter_by(citizen_id=person.citizen.id)
                              .order_by(SigningCertificate.id)).all()
    assert [(row.live_citizen_id, row.revoked_at is not None) for row in rows] == [
        (None, True), (person.citizen.id, False)]


def test_a_revoked_certificates_key_is_destroyed_and_its_certificate_kept(browser, sms_file):
    person = make_citizen()
    signed_by(person)
    row = db.session.scalar(db.select(SigningCertificate).filter_by(citizen_id=person.citizen.id))
    assert row.sealed_key

    unsubscribe(browser, sms_file, person)

    db.session.refresh(row)
    assert row.sealed_key == b"" and x509.load_der_x509_certificate(row.certificate)


def test_the_crl_is_served_unchanged_until_a_revocation_changes_it(browser, sms_file):
    person = make_citizen()
    signed_by(person)
    before = [browser.get("/firma/crl").get_data() for _ in range(3)]
    # ECDSA signatures are randomised: a CRL signed again would not be the same bytes
    assert before[0] == before[1] == before[2]

    unsubscribe(browser, sms_file, person)

    after = browser.get("/firma/crl").get_data()
    assert after != before[0] and listed(after) == {certificate_serial(person)}
    older, newer = x509.load_der_x509_crl(before[0]), x509.load_der_x509_crl(after)
    number = lambda crl: crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number  # noqa: E731
    assert number(newer) > number(older)


def test_the_crl_is_signed_by_the_published_ca(browser):
    published = fetch_published(browser)
    ca = x509.load_der_x509_certificate(published.ca_der)
    crl = x509.load_der_x509_crl(published.crl_der)

    assert crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key())
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    response = browser.get("/firma/crl")
    assert response.mimetype == "application/pkix-crl"
    assert browser.get("/firma/ca.crt").mimetype == "application/pkix-cert"


def test_revoking_a_citizen_without_certificates_changes_nothing_and_records_nothing(browser, sms_file):
    person = make_citizen()

    unsubscribe(browser, sms_file, person)

    assert db.session.scalar(db.select(AuditEvent).filter_by(
        tag=EventTag.FIRMA_CERTIFICATES_REVOKED)) is None
    assert listed(fetch_published(browser).crl_der) == set()
