"""An expired password at login (SPEC §3.3, §3.4): renewed through the change flow, SMS
code first, whatever level the relying party asked for."""

from __future__ import annotations

from idp.assurance import ACR_SUBSTANTIAL
from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent, LoginSession
from idp.notices import password_replaced_text
from idp.sms import read_sms_file
from tests.factories import make_citizen, make_client
from tests.flows.support import NEW_PASSWORD, choose_password, fill, pass_sms, wrong_code
from tests.mobile.support import API, enroll, signed_get
from tests.support.browser import AuthorizationAttempt, shows_message, submit

LOGIN, OTP, EXPIRED = "/login", "/login/otp", "/login/expired"


def expired_password_login(browser, person, rp=None):  # type: ignore[no-untyped-def]
    """The right password, two years and a day after it was set, at the login page an RP
    sent the browser to (the IdP's own login page without ``rp``)."""
    clock.advance(days=731)
    if rp is None:
        page = browser.get(LOGIN)
    else:
        page = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
    return submit(browser, page, LOGIN, document=person.document, password=person.password)


def renew(browser, sms_file):  # type: ignore[no-untyped-def]
    """From the SMS-code page through a new password to where the login goes on."""
    assert pass_sms(browser, OTP, sms_file).headers["Location"] == EXPIRED
    return choose_password(browser, EXPIRED)


def test_an_expired_password_is_renewed_only_after_the_sms_code_even_for_a_low_level_rp(
        app, browser, sms_file):
    person = make_citizen()
    rp = make_client()  # asks for the low level: the password alone would do

    after_password = expired_password_login(browser, person, rp)

    sms_page = after_password  # answered to the password
    assert sms_page.status_code == 200 and shows_message(sms_page, "password_expired")
    early = submit(browser, sms_page, EXPIRED, new_password=NEW_PASSWORD,
                   new_password_confirm=NEW_PASSWORD)
    assert early.status_code == 400 and shows_message(early, "session_expired")
    db.session.refresh(person.citizen)
    assert person.citizen.password_expired()

    renewed = renew(browser, sms_file)

    assert "/consent" in renewed.headers["Location"]
    login_session = db.session.scalar(db.select(LoginSession).filter_by(citizen_id=person.citizen.id))
    assert login_session.acr == ACR_SUBSTANTIAL and {"pwd", "sms"} <= set(login_session.amr)
    db.session.refresh(person.citizen)
    assert not person.citizen.password_expired()


def test_the_renewed_password_must_differ_from_the_expired_one_and_the_login_goes_on(
        app, browser, sms_file):
    person = make_citizen()
    expired_password_login(browser, person)
    assert pass_sms(browser, OTP, sms_file).headers["Location"] == EXPIRED

    same = choose_password(browser, EXPIRED, person.password)
    assert same.status_code == 400 and shows_message(same, "password_same_as_previous")
    assert choose_password(browser, EXPIRED).headers["Location"] == "/account"
    assert read_sms_file(sms_file)[-1]["text"] == password_replaced_text(0)
    assert fill(browser, LOGIN, document=person.document, password=person.password).status_code == 401


def test_a_wrong_sms_code_leaves_the_expired_password_in_place(app, browser, sms_file):
    person = make_citizen()
    expired_password_login(browser, person)
    wrong = fill(browser, OTP, otp=wrong_code(sms_file))
    assert wrong.status_code == 400 and shows_message(wrong, "otp_wrong")
    assert browser.get(EXPIRED).status_code == 400


def test_renewing_an_expired_password_revokes_the_enrolled_apps(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    expired_password_login(browser, person)

    assert renew(browser, sms_file).headers["Location"] == "/account"

    assert signed_get(browser, device, f"{API}/pending").get_json()["error"] == "unknown_device"
    notice = read_sms_file(sms_file)[-1]
    assert notice["to"] == person.citizen.phone and notice["text"] == password_replaced_text(1)
    changed = db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.PASSWORD_CHANGED))
    assert changed.detail == {"reason": "expired", "devices": 1, "passkeys": 0}
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.DEVICES_REVOKED))

