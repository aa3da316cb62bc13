"""Passkeys on the account page (issue 17): added with user verification, listed with
their dates, renamed and removed; each change audited and announced by SMS; at most ten;
revoked by a new password (like enrolled apps) and by unsubscribing."""

from __future__ import annotations

from idp.audit import EventTag
from idp.extensions import db
from idp.models import AuditEvent
from idp.notices import passkey_changed_text, password_replaced_text
from idp.passkeys.models import Passkey
from idp.sms import read_sms_file
from tests.factories import make_citizen
from tests.flows.support import choose_password, fill, pass_sms
from tests.passkeys.authenticator import UP, SoftAuthenticator
from tests.passkeys.support import add_passkey, citizen_with_passkey, log_in_with, options
from tests.support.browser import csrf_token, log_in_to_account, shows_message, submit


def active_passkeys(person) -> list[Passkey]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return list(db.session.scalars(db.select(Passkey).filter_by(citizen_id=person.citizen.id,
                                                                 revoked_at=None)))


def tags(person) -> list[str]:  # type: ignore[no-untyped-def]
    return list(db.session.scalars(db.select(AuditEvent.tag).filter_by(citizen_id=person.citizen.id)
                                   .order_by(AuditEvent.id)))


def last_sms(sms_file) -> str:  # type: ignore[no-untyped-def]
    return read_sms_file(sms_file)[-1]["text"]


def logged_in(browser, sms_file):  # type: ignore[no-untyped-def]
    person = make_citizen()
    log_in_to_account(browser, person.document, person.password, sms_file)
    return person


def test_a_passkey_added_on_the_account_page_is_listed_audited_and_announced(app, browser, sms_file):
    person = logged_in(browser, sms_file)

    added = add_passkey(browser, SoftAuthenticator(), name="Portátil de casa")

    assert added.status_code == 302 and added.headers["Location"].startswith("/account?passkey=added")
    page = browser.get(added.headers["Location"])
    assert shows_message(page, "passkey_added") and 'value="Portátil de casa"' in page.get_data(as_text=True)
    [passkey] = active_passkeys(person)
    assert passkey.name == "Portátil de casa" and passkey.sign_count == 0 and not passkey.backed_up
    assert EventTag.PASSKEY_ADDED in tags(person)
    assert last_sms(sms_file) == passkey_changed_text("added")


def test_the_registration_asks_for_a_discoverable_user_verified_passkey_of_this_site(app, browser, sms_file):
    person = logged_in(browser, sms_file)
    asked = options(browser, browser.get("/account"), "/account/passkeys/options")

    assert asked["rp"] == {"id": "localhost", "name": "Cl@ve"}
    assert asked["user"]["name"] == person.document and asked["attestation"] == "none"
    assert asked["authenticatorSelection"]["residentKey"] == "required"
    assert asked["authenticatorSelection"]["userVerification"] == "required"


def test_adding_a_passkey_needs_a_substantial_session(app, browser, sms_file):
    person = make_citizen()
    assert browser.post("/account/passkeys/options").status_code == 400  # no CSRF token, no session
    fill(browser, "/login", document=person.document, password=person.password)  # low: password only

    page = browser.get("/login")
    answer = submit(browser, page, "/account/passkeys", name="Mi móvil", credential="{}")
    refused_options = browser.post("/account/passkeys/options",
                                   headers={"X-CSRFToken": csrf_token(page.get_data(as_text=True))})

    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert refused_options.status_code == 403
    assert active_passkeys(person) == []


def test_a_registration_without_user_verification_is_refused(app, browser, sms_file):
    person = logged_in(browser, sms_file)

    answer = add_passkey(browser, SoftAuthenticator(), flags=UP)

    assert answer.status_code == 400 and shows_message(answer, "passkey_failed")
    assert active_passkeys(person) == []
    assert EventTag.PASSKEY_ENROLLMENT_REFUSED in tags(person)


def test_a_registration_made_on_another_origin_is_refused(app, browser, sms_file):
    person = logged_in(browser, sms_file)

    answer = add_passkey(browser, SoftAuthenticator(), origin="https://clave-gob.example")

    assert answer.status_code == 400 and shows_message(answer, "passkey_failed")
    assert active_passkeys(person) == []


def test_a_passkey_registered_by_another_citizen_cannot_be_added_again(app, browser, sms_file):
    _, key = citizen_with_passkey(app, sms_file)
    person = logged_in(browser, sms_file)

    answer = add_passkey(browser, key)

    assert answer.status_code == 400 and shows_message(answer, "passkey_already_registered")
    assert active_passkeys(person) == []


def test_a_name_is_required(app, browser, sms_file):
    person = logged_in(browser, sms_file)

    answer = add_passkey(browser, SoftAuthenticator(), name="  ")

    assert answer.status_code == 400 and shows_message(answer, "field_required")
    assert active_passkeys(person) == []


def test_a_citizen_has_at_most_ten_passkeys(app, browser, sms_file):
    person = logged_in(browser, sms_file)
    for number in range(10):
        assert add_passkey(browser, SoftAuthenticator(), name=f"Llave {number}").status_code == 302

    page = browser.get("/account")
    eleventh = submit(browser, page, "/account/passkeys", name="Una más", credential="{}")

    assert shows_message(page, "passkey_limit", limit=10)
    assert 'action="/account/passkeys"' not in page.get_data(as_text=True)
    assert eleventh.status_code == 400 and len(active_passkeys(person)) == 10


def test_renaming_and_removing_a_passkey_are_audited_and_announced(app, browser, sms_file):
    person = logged_in(browser, sms_file)
    key = SoftAuthenticator()
    add_passkey(browser, key, name="Mi móvil")
    [passkey] = active_passkeys(person)

    renamed = submit(browser, browser.get("/account"), "/account/passkeys/rename",
                     passkey=str(passkey.id), name="Móvil del trabajo")
    assert renamed.status_code == 302 and last_sms(sms_file) == passkey_changed_text("renamed")
    assert active_passkeys(person)[0].name == "Móvil del trabajo"
    removed = submit(browser, browser.get("/account"), "/account/passkeys/remove", passkey=str(passkey.id))

    assert removed.status_code == 302 and last_sms(sms_file) == passkey_changed_text("removed")
    assert active_passkeys(person) == []
    assert {EventTag.PASSKEY_RENAMED, EventTag.PASSKEY_REMOVED} <= set(tags(person))
    refused = log_in_with(app.test_client(), key)
    assert refused.status_code == 400 and shows_message(refused, "passkey_unknown")


def test_another_citizens_passkey_can_be_neither_renamed_nor_removed(app, browser, sms_file):
    other, _ = citizen_with_passkey(app, sms_file, phone="+34600333444")
    [theirs] = active_passkeys(other)
    logged_in(browser, sms_file)

    renamed = submit(browser, browser.get("/account"), "/account/passkeys/rename",
                     passkey=str(theirs.id), name="Mía")
    removed = submit(browser, browser.get("/account"), "/account/passkeys/remove", passkey=str(theirs.id))

    assert renamed.status_code == removed.status_code == 404
    assert [(p.name, p.revoked_at) for p in active_passkeys(other)] == [("Mi móvil", None)]


def test_a_password_reset_with_the_activation_code_revokes_the_passkeys(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)

    fill(browser, "/password/forgot", document=person.document, activation_code=person.activation_code)
    pass_sms(browser, "/password/forgot/otp", sms_file)
    done = choose_password(browser, "/password/forgot/new")

    assert shows_message(done, "password_passkeys_revoked")
    assert last_sms(sms_file) == password_replaced_text(0, 1)
    assert active_passkeys(person) == [] and EventTag.PASSKEYS_REVOKED in tags(person)
    refused = log_in_with(app.test_client(), key)
    assert refused.status_code == 400 and shows_message(refused, "passkey_unknown")


def test_unsubscribing_revokes_the_passkeys(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)

    fill(browser, "/unsubscribe", document=person.document, password=person.password)
    pass_sms(browser, "/unsubscribe/otp", sms_file)
    fill(browser, "/unsubscribe/confirm")

    assert active_passkeys(person) == []
    refused = log_in_with(app.test_client(), key)
    assert refused.status_code == 400 and shows_message(refused, "passkey_unknown")


def test_a_passkey_session_may_add_another_passkey(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    log_in_with(browser, key)

    assert add_passkey(browser, SoftAuthenticator(), name="Llave USB").status_code == 302
    assert len(active_passkeys(person)) == 2


def test_a_passkey_cannot_be_renamed_to_nothing(app, browser, sms_file):
    person = logged_in(browser, sms_file)
    add_passkey(browser, SoftAuthenticator(), name="Mi móvil")
    [passkey] = active_passkeys(person)

    answer = submit(browser, browser.get("/account"), "/account/passkeys/rename",
                    passkey=str(passkey.id), name=" ")

    assert answer.status_code == 400 and shows_message(answer, "field_required")
    assert 'aria-invalid="true"' not in answer.get_data(as_text=True)  # not the new passkey's field
    assert active_passkeys(person)[0].name == "Mi móvil"

