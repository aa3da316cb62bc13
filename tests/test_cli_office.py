"""Office acts on a citizen's credential: unblock or regenerate the activation code, change
the mobile phone — run through the ``idp`` command against the test's own database."""

from __future__ import annotations

import json

import pytest

from idp import citizens
from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent, CitizenStatus
from idp.sms import latest_code, read_sms_file
from tests.factories import make_citizen, new_dni
from tests.flows.support import fill, pass_sms
from tests.support.browser import is_sms_page, shows_message, submit
from tests.support.cli import cli_for

WRONG_CODE = "AAAA-AAAA-AAAA-AAAA"


@pytest.fixture
def run(app, monkeypatch):  # type: ignore[no-untyped-def]
    return cli_for(app, monkeypatch, catch_exceptions=True)


def block_activation_code(person) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        citizens.verify_activation_code(person.citizen, WRONG_CODE)
        db.session.commit()  # as the request that refused it
    assert person.citizen.activation_code_blocked


def tags(tag: EventTag) -> list[AuditEvent]:
    return db.session.scalars(db.select(AuditEvent).filter_by(tag=tag)).all()


def test_unblock_code_lets_the_same_code_work_again_with_a_fresh_count(app, run, browser):
    person = make_citizen()
    block_activation_code(person)

    result = run("citizen", "unblock-code", person.document)

    assert result.exit_code == 0, result.output
    db.session.refresh(person.citizen)
    assert not person.citizen.activation_code_blocked and person.citizen.activation_failures == 0
    started = fill(browser, "/password/forgot", document=person.document,
                   activation_code=person.activation_code)
    assert is_sms_page(started, "/password/forgot/otp")
    assert len(tags(EventTag.ACTIVATION_CODE_UNBLOCKED)) == 1


def test_regenerate_code_prints_a_new_code_once_and_the_old_one_stops_at_once(app, run, browser):
    person = make_citizen()
    block_activation_code(person)

    result = run("citizen", "regenerate-code", person.document, "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["document"] == person.document and data["activation_code"] != person.activation_code
    db.session.refresh(person.citizen)
    assert not person.citizen.activation_code_blocked and person.citizen.activation_failures == 0
    old = fill(browser, "/password/forgot", document=person.document,
               activation_code=person.activation_code)
    assert shows_message(old, "reset_failed")
    new = fill(browser, "/password/forgot", document=person.document,
               activation_code=data["activation_code"])
    assert is_sms_page(new, "/password/forgot/otp")
    shown = run("citizen", "show", person.document, "--json").stdout
    assert data["activation_code"] not in shown
    assert data["activation_code"] not in json.dumps([e.detail for e in tags(
        EventTag.ACTIVATION_CODE_REGENERATED)])


def test_change_phone_sends_the_next_codes_to_the_new_number_only(app, run, browser, sms_file):
    person = make_citizen(phone="+34600111222")
    fill(browser, "/password/forgot", document=person.document,
         activation_code=person.activation_code)
    code_to_old_phone = latest_code(sms_file)

    result = run("citizen", "change-phone", person.document, "--phone", "+34 611 222 333")

    assert result.exit_code == 0, result.output
    db.session.refresh(person.citizen)
    assert person.citizen.phone == "+34611222333"
    late = submit(browser, browser.get("/password/forgot/otp"), "/password/forgot/otp",
                  otp=code_to_old_phone)
    assert late.status_code == 400
    clock.advance(seconds=31)
    fill(browser, "/password/forgot", document=person.document,
         activation_code=person.activation_code)
    assert read_sms_file(sms_file)[-1]["to"] == "+34611222333"
    assert pass_sms(browser, "/password/forgot/otp", sms_file).status_code == 302
    assert len(tags(EventTag.PHONE_CHANGED)) == 1


@pytest.mark.parametrize("phone", ["600111222", "+34 abc", "+0034600111222", "+3460"])
def test_change_phone_refuses_a_number_not_in_e164_form(app, run, phone):
    person = make_citizen(phone="+34600111222")
    result = run("citizen", "change-phone", person.document, "--phone", phone)
    assert result.exit_code != 0 and "E.164" in result.output
    db.session.refresh(person.citizen)
    assert person.citizen.phone == "+34600111222"
    assert tags(EventTag.PHONE_CHANGED) == []


@pytest.mark.parametrize("command", [("unblock-code",), ("regenerate-code",),
                                     ("change-phone", "--phone", "+34611222333")])
def test_office_acts_refuse_an_unknown_document(app, run, command):
    result = run("citizen", command[0], new_dni(), *command[1:])
    assert result.exit_code != 0 and "No citizen" in result.output


@pytest.mark.parametrize("command", [("unblock-code",), ("regenerate-code",),
                                     ("change-phone", "--phone", "+34611222333")])
def test_office_acts_refuse_an_unsubscribed_citizen(app, run, command):
    person = make_citizen()
    person.citizen.status = CitizenStatus.UNSUBSCRIBED
    db.session.commit()
    result = run("citizen", command[0], person.document, *command[1:])
    assert result.exit_code != 0 and "new registration act" in result.output


def test_office_acts_refuse_a_wrong_control_letter(app, run):
    result = run("citizen", "regenerate-code", "12345678A")
    assert result.exit_code != 0


def test_unsubscribe_at_an_office_cancels_the_credential_and_revokes_the_signing_certificate(
        app, run, browser):
    from cryptography import x509

    from idp.firma.identity import signer_identity
    from idp.firma.models import SigningCertificate
    from idp.firma.signer import sign_digest

    person = make_citizen()
    sign_digest(signer_identity(person.citizen), b"\x00" * 32, name="contrato.pdf")
    db.session.commit()

    result = run("citizen", "unsubscribe", person.document, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"document": person.document, "status": "unsubscribed"}
    db.session.refresh(person.citizen)
    assert person.citizen.status == CitizenStatus.UNSUBSCRIBED
    [event] = tags(EventTag.UNSUBSCRIBED)
    assert event.detail["channel"] == "office"
    row = db.session.scalar(db.select(SigningCertificate).filter_by(citizen_id=person.citizen.id))
    crl = x509.load_der_x509_crl(browser.get("/firma/crl").get_data())
    assert row.revoked_at is not None and int(row.serial, 16) in {entry.serial_number for entry in crl}
    assert fill(browser, "/login", document=person.document,
                password=person.password).status_code != 302
    assert run("citizen", "unsubscribe", person.document).exit_code != 0  # once is enough
