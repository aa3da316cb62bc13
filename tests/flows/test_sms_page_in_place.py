"""The Permanent Cl@ve login answers its SMS-code page to the password itself (no redirect
and GET of /login/otp), as if it were at /login/otp, and a reload that posts the password
again shows that page again without sending another SMS."""

from __future__ import annotations

import pytest

from idp.assurance import ACR_SUBSTANTIAL
from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent, FlowState
from idp.sms import SmsDeliveryError, latest_code
from tests.factories import make_citizen, make_client
from tests.flows.support import never_sent_code, sms_sent, start_of_a_window
from tests.support.browser import AuthorizationAttempt, code_from, is_login_sms_page, shows_message, submit

LOGIN, OTP = "/login", "/login/otp"


def counted(tag: EventTag) -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).filter_by(tag=tag))


def sms_page_to_the_password(browser, person, login_page=None):  # type: ignore[no-untyped-def]
    """The login page's form sent with the right password: what it answers, and the login
    page (whose form a reload would post again)."""
    login_page = login_page or browser.get(LOGIN)
    return submit(browser, login_page, LOGIN, document=person.document, password=person.password), login_page


def is_the_sms_page(response) -> bool:  # type: ignore[no-untyped-def]
    return is_login_sms_page(response)


def test_the_right_password_answers_the_sms_page_whose_code_completes_the_login(app, browser, sms_file):
    person = make_citizen()

    answer, _ = sms_page_to_the_password(browser, person)

    assert answer.status_code == 200 and is_the_sms_page(answer)
    assert answer.headers["Cache-Control"] == "no-store"
    assert shows_message(answer, "otp_sent", last_digits="222")
    done = submit(browser, answer, OTP, otp=latest_code(sms_file))  # no GET /login/otp between
    assert done.status_code == 302 and done.headers["Location"] == "/account"
    assert sms_sent(sms_file) == 1


def test_the_sms_page_answered_for_a_relying_party_names_it_and_its_code_returns_there(
        app, browser, sms_file):
    person = make_citizen()
    rp = make_client(default_acr=ACR_SUBSTANTIAL)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    login_page = attempt.start(browser)

    answer, _ = sms_page_to_the_password(browser, person, login_page)

    assert answer.status_code == 200 and is_the_sms_page(answer)
    assert "Agencia de Pruebas" in answer.get_data(as_text=True)
    done = submit(browser, answer, OTP, otp=latest_code(sms_file))
    assert "/consent" in done.headers["Location"] or code_from(done)


def test_the_sms_page_answered_to_the_password_switches_language_to_the_sms_page(app, browser, sms_file):
    person = make_citizen()
    answer, _ = sms_page_to_the_password(browser, person)
    html = answer.get_data(as_text=True)
    assert '<input type="hidden" name="next" value="/login/otp">' in html
    assert "login.js" not in html and 'src="/static/sms_page.js"' in html
    switched = submit(browser, answer, "/language", lang="en", next="/login/otp")
    assert switched.headers["Location"] == OTP
    assert is_the_sms_page(browser.get(OTP))  # where a reload or a language switch lands


def test_posting_the_password_again_shows_the_same_sms_page_without_another_sms(app, browser, sms_file):
    person = make_citizen()
    first, login_page = sms_page_to_the_password(browser, person)
    code = latest_code(sms_file)
    flow = db.session.scalar(db.select(FlowState).filter_by(kind="login"))

    again, _ = sms_page_to_the_password(browser, person, login_page)  # a reload without JavaScript

    assert again.status_code == 200 and is_the_sms_page(again)
    assert sms_sent(sms_file) == 1 and counted(EventTag.OTP_SENT) == 1
    db.session.expire_all()
    kept = db.session.scalars(db.select(FlowState).filter_by(kind="login")).all()
    assert [state.id for state in kept] == [flow.id]  # the same flow, no new one
    assert counted(EventTag.LOGIN_FAILED) == 0
    resend = submit(browser, again, OTP, action="resend")  # the interval runs from the first code
    assert resend.status_code == 429 and shows_message(resend, "otp_resend_wait", wait="30 segundos")
    done = submit(browser, again, OTP, otp=code)
    assert done.headers["Location"] == "/account"


def test_posting_the_password_again_after_the_code_is_spent_sends_a_new_one(app, browser, sms_file):
    person = make_citizen()
    first, login_page = sms_page_to_the_password(browser, person)
    for _ in range(app.config["IDP_OTP_MAX_TRIES"]):
        submit(browser, first, OTP, otp=never_sent_code(sms_file))

    again, _ = sms_page_to_the_password(browser, person, login_page)

    assert is_the_sms_page(again) and sms_sent(sms_file) == 2
    assert submit(browser, again, OTP, otp=latest_code(sms_file)).headers["Location"] == "/account"


def test_posting_the_password_again_once_the_code_expired_sends_a_new_one(app, browser, sms_file):
    person = make_citizen()
    _, login_page = sms_page_to_the_password(browser, person)
    clock.advance(seconds=app.config["IDP_OTP_TTL"])

    again, _ = sms_page_to_the_password(browser, person, login_page)

    assert is_the_sms_page(again) and sms_sent(sms_file) == 2


def test_posting_the_password_for_another_relying_party_starts_its_own_sms_step(app, browser, sms_file):
    person = make_citizen()
    rp = make_client(default_acr=ACR_SUBSTANTIAL)
    sms_page_to_the_password(browser, person)
    login_page = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)

    for_rp, _ = sms_page_to_the_password(browser, person, login_page)

    assert is_the_sms_page(for_rp) and sms_sent(sms_file) == 2
    assert "Agencia de Pruebas" in for_rp.get_data(as_text=True)


def test_posting_another_citizens_password_starts_their_own_sms_step(app, browser, sms_file):
    first, other = make_citizen(), make_citizen(phone="+34600999888")
    _, login_page = sms_page_to_the_password(browser, first)

    theirs, _ = sms_page_to_the_password(browser, other, login_page)

    assert shows_message(theirs, "otp_sent", last_digits="888") and sms_sent(sms_file) == 2


def test_posting_a_wrong_password_over_the_sms_step_is_refused_and_counted(app, browser, sms_file):
    person = make_citizen()
    _, login_page = sms_page_to_the_password(browser, person)

    wrong = submit(browser, login_page, LOGIN, document=person.document, password="Otra-Clave-2026!")

    assert wrong.status_code == 401 and not is_the_sms_page(wrong)
    assert counted(EventTag.LOGIN_FAILED) == 1
    db.session.refresh(person.citizen)
    assert person.citizen.password_failures == 1
    assert sms_sent(sms_file) == 1


def _gateway_down(monkeypatch, app):  # type: ignore[no-untyped-def]
    def refuse(phone: str, text: str) -> None:
        raise SmsDeliveryError("down")

    monkeypatch.setattr(app.extensions["idp.sms"], "send", refuse)


def test_no_sms_gateway_is_said_on_the_page_answered_to_the_password(app, browser, sms_file, monkeypatch):
    person = make_citizen()
    _gateway_down(monkeypatch, app)

    answer, _ = sms_page_to_the_password(browser, person)

    assert answer.status_code == 400 and shows_message(answer, "sms_unavailable")
    assert f'action="{OTP}"' in answer.get_data(as_text=True)  # "send me the code" posts there
    assert not shows_message(answer, "otp_sent", last_digits="222")


@pytest.mark.parametrize("fresh_browser", [False, True])
def test_the_sms_cap_is_said_with_429_on_the_page_answered_to_the_password(
        app, browser, sms_file, fresh_browser):
    start_of_a_window(3600)
    person = make_citizen()
    for _ in range(10):
        sms_page_to_the_password(app.test_client(), person)

    answer, _ = sms_page_to_the_password(app.test_client() if fresh_browser else browser, person)

    assert answer.status_code == 429 and shows_message(answer, "otp_send_limit")
    assert sms_sent(sms_file) == 10


def test_an_expired_password_answers_its_sms_page_to_the_password(app, browser, sms_file):
    person = make_citizen()
    clock.advance(days=731)

    answer, login_page = sms_page_to_the_password(browser, person)
    again, _ = sms_page_to_the_password(browser, person, login_page)

    assert answer.status_code == again.status_code == 200 and is_the_sms_page(again)
    assert shows_message(again, "password_expired") and sms_sent(sms_file) == 1
    assert submit(browser, again, OTP, otp=latest_code(sms_file)).headers["Location"] == "/login/expired"


def test_a_step_up_answers_its_sms_page_to_the_click(app, browser, sms_file):
    person = make_citizen()
    low, high = make_client(), make_client(default_acr=ACR_SUBSTANTIAL)
    first = AuthorizationAttempt(low.client_id, low.redirect_uri)
    login_page = first.start(browser)
    submit(browser, login_page, LOGIN, document=person.document, password=person.password)
    confirm = browser.get(AuthorizationAttempt(high.client_id, high.redirect_uri).start(browser)
                          .headers["Location"])

    answer = submit(browser, confirm, "/login/step-up")
    again = submit(browser, confirm, "/login/step-up")  # a reload without JavaScript

    assert answer.status_code == again.status_code == 200 and is_the_sms_page(again)
    assert sms_sent(sms_file) == 1
    done = submit(browser, again, OTP, otp=latest_code(sms_file))
    assert "/consent" in done.headers["Location"] or code_from(done)
