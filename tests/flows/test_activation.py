"""Activation: DNI/NIE + e-mail + activation code → SMS code → password."""

from __future__ import annotations

from idp.extensions import db
from idp.models import CitizenStatus
from idp.sms import latest_code
from tests.factories import make_citizen, new_dni
from tests.flows.support import attempts_until_blocked
from tests.support.browser import is_sms_page, submit

GOOD_PASSWORD = "Primera-Clave-2026!"


def start(browser, document: str, email: str, code: str):  # type: ignore[no-untyped-def]
    page = browser.get("/activate")
    return submit(browser, page, "/activate", document=document, email=email, activation_code=code)


def test_citizen_activates_with_code_sms_and_a_policy_compliant_password(app, browser, sms_file):
    person = make_citizen(active=False)
    response = start(browser, person.document, person.citizen.email, person.activation_code)
    assert is_sms_page(response, "/activate/otp")
    otp_page = browser.get("/activate/otp")
    to_password = submit(browser, otp_page, "/activate/otp", otp=latest_code(sms_file))
    assert to_password.headers["Location"] == "/activate/password"
    page = browser.get("/activate/password")
    done = submit(browser, page, "/activate/password", new_password=GOOD_PASSWORD,
                  new_password_confirm=GOOD_PASSWORD)
    assert done.status_code == 200
    db.session.refresh(person.citizen)
    assert person.citizen.status == CitizenStatus.ACTIVE


def test_activation_code_is_accepted_without_dashes_and_in_lower_case(app, browser):
    person = make_citizen(active=False)
    typed = person.activation_code.replace("-", "").lower()
    response = start(browser, person.document, person.citizen.email, typed)
    assert is_sms_page(response, "/activate/otp")


def test_policy_failing_password_lists_every_failed_rule(app, browser, sms_file):
    person = make_citizen(active=False)
    start(browser, person.document, person.citizen.email, person.activation_code)
    submit(browser, browser.get("/activate/otp"), "/activate/otp", otp=latest_code(sms_file))
    page = browser.get("/activate/password")
    refused = submit(browser, page, "/activate/password", new_password="abc",
                     new_password_confirm="abd")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    for fragment in ("Utilice al menos 8 caracteres.", "Incluya una letra mayúscula", "Incluya un número",
                     "Incluya un carácter especial", "Las dos contraseñas no coinciden."):
        assert fragment in html
    db.session.refresh(person.citizen)
    assert person.citizen.status == CitizenStatus.REGISTERED


def test_unknown_document_and_wrong_email_get_the_same_answer_as_a_wrong_code(app, browser):
    person = make_citizen(active=False)
    answers = [
        start(browser, new_dni(), person.citizen.email, person.activation_code),
        start(browser, person.document, "other@example.org", person.activation_code),
        start(browser, person.document, person.citizen.email, "AAAA-AAAA-AAAA-AAAA"),
    ]
    assert {a.status_code for a in answers} == {400}
    messages = {a.get_data(as_text=True).count("no coinciden con los que constan") for a in answers}
    assert messages == {2}  # summary and field


def test_fifth_wrong_activation_code_is_still_counted(app, browser):
    person = make_citizen(active=False)
    for _ in range(5):
        start(browser, person.document, person.citizen.email, "AAAA-AAAA-AAAA-AAAA")
    db.session.refresh(person.citizen)
    assert person.citizen.activation_failures == 5
    assert person.citizen.activation_code_blocked


def test_sixth_wrong_activation_code_is_refused_even_if_correct(app, browser):
    person = make_citizen(active=False)
    for _ in range(5):
        start(browser, person.document, person.citizen.email, "AAAA-AAAA-AAAA-AAAA")
    refused = start(browser, person.document, person.citizen.email, person.activation_code)
    assert refused.status_code == 400
    assert "código de activación está bloqueado" in refused.get_data(as_text=True)


def test_wrong_otp_three_times_exhausts_the_code(app, browser, sms_file):
    person = make_citizen(active=False)
    start(browser, person.document, person.citizen.email, person.activation_code)
    code = latest_code(sms_file)
    wrong = "000000" if code != "000000" else "111111"
    page = browser.get("/activate/otp")
    for _ in range(3):
        page = submit(browser, page, "/activate/otp", otp=wrong)
    assert "demasiados códigos SMS incorrectos" in page.get_data(as_text=True)
    late = submit(browser, page, "/activate/otp", otp=code)
    assert late.status_code == 400


def test_expired_otp_is_refused(app, browser, sms_file):
    from idp.clock import clock

    person = make_citizen(active=False)
    start(browser, person.document, person.citizen.email, person.activation_code)
    clock.advance(minutes=6)
    page = browser.get("/activate/otp")
    response = submit(browser, page, "/activate/otp", otp=latest_code(sms_file))
    assert response.status_code == 400
    assert "ha caducado" in response.get_data(as_text=True)


def test_an_unknown_problem_in_the_sms_page_address_is_ignored(app, browser, sms_file):
    person = make_citizen(active=False)
    start(browser, person.document, person.citizen.email, person.activation_code)
    assert browser.get("/activate/otp?problem=no_such_message").status_code == 200
    assert browser.get("/activate/otp?problem=sms_unavailable").status_code == 400


def test_unknown_document_wrong_email_and_wrong_code_reach_blocked_the_same_way(app):
    wrong_email, wrong_code = make_citizen(active=False), make_citizen(active=False)
    series = [
        attempts_until_blocked(app, "/activate", "198.51.100.1", document=new_dni(),
                               email=wrong_email.citizen.email, activation_code=wrong_email.activation_code),
        attempts_until_blocked(app, "/activate", "198.51.100.2", document=wrong_email.document,
                               email="other@example.org", activation_code=wrong_email.activation_code),
        attempts_until_blocked(app, "/activate", "198.51.100.3", document=wrong_code.document,
                               email=wrong_code.citizen.email, activation_code="AAAA-AAAA-AAAA-AAAA"),
    ]
    assert [blocked for *_, blocked, _ in series[0]] == [False] * 4 + [True] * 2
    assert series[0] == series[1] == series[2]
