"""The consent page reads as a person tells their own data: name and both surnames, document,
date of birth, e-mail and phone, each with whether it is verified beside it."""

from __future__ import annotations

import json
import re
from datetime import date
from html import unescape

import pytest
from babel.support import Translations

from idp.extensions import db
from idp.web import LANGUAGE_COOKIE, LANGUAGES
from tests.factories import make_citizen, make_client
from tests.support.browser import AuthorizationAttempt, log_in
from tests.test_translations import TRANSLATIONS

ALL_DATA = "openid profile email phone national_id"
_LINE = re.compile(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", re.S)


def consent_lines(browser, sms_file, scope: str = ALL_DATA, **extra: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(label, value) of each line the consent page lists, as read (tags dropped)."""
    person = make_citizen()
    person.citizen.birthdate = date(1985, 3, 7)
    db.session.commit()
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope=scope, extra=extra)
    response = log_in(browser, attempt.start(browser), person.document, person.password, sms_file)
    assert "/consent" in response.headers["Location"]
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    listed = page.split('<dl class="claims')[1].split("</dl>")[0]
    return [(_text(label), _text(value)) for label, value in _LINE.findall(listed)]


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


def test_consent_lists_name_document_birthdate_email_and_phone_as_a_person_reads_them(
        app, browser, sms_file) -> None:
    lines = consent_lines(browser, sms_file)

    assert [label for label, _ in lines] == [
        "Nombre y apellidos", "Documento de identidad", "Identificador europeo (eIDAS)",
        "Fecha de nacimiento", "Dirección de correo electrónico", "Número de teléfono móvil",
        "Su identificador"]
    values = dict(lines)
    assert values["Nombre y apellidos"] == "Lucía Martín Ortega"
    assert re.fullmatch(r"DNI \d{8}[A-Z]", values["Documento de identidad"])
    assert values["Fecha de nacimiento"] == "7 de marzo de 1985"
    assert values["Dirección de correo electrónico"] == "lucia@example.org (verificada)"
    assert values["Número de teléfono móvil"] == "+34••••••222 (verificado)"  # masked as on the account page


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_verified_is_a_word_beside_its_value_in_every_language(app, browser, sms_file,
                                                              locale: str) -> None:
    browser.set_cookie(LANGUAGE_COOKIE, locale)
    lines = consent_lines(browser, sms_file)

    catalogue = Translations.load(str(TRANSLATIONS), [locale])
    verified = {claim: catalogue.pgettext(context, "verified")
                for claim, context in (("email", "e-mail address"), ("phone", "phone number"))}
    assert len(lines) == 7, lines  # no line of its own for either flag
    assert lines[0] == (catalogue.gettext("Full name"), "Lucía Martín Ortega")
    assert lines[4] == (catalogue.gettext("E-mail address"), f"lucia@example.org ({verified['email']})")
    assert lines[5][1].endswith(f"({verified['phone']})")


def test_a_part_of_the_name_is_labelled_as_what_it_is(app, browser, sms_file) -> None:
    asked = {"userinfo": {"given_name": None, "first_surname": None}}
    lines = consent_lines(browser, sms_file, scope="openid", claims=json.dumps(asked))

    assert lines == [("Nombre y primer apellido", "Lucía Martín"),
                     ("Su identificador", "un código válido únicamente para este organismo")]


def test_a_verified_flag_asked_alone_is_said_in_words(app, browser, sms_file) -> None:
    asked = {"userinfo": {"email_verified": None}}
    lines = consent_lines(browser, sms_file, scope="openid", claims=json.dumps(asked))

    assert lines[0] == ("Si su dirección de correo electrónico está verificada", "verificada")


def test_a_public_identifier_is_not_called_valid_only_for_this_body(app, browser, sms_file) -> None:
    person = make_citizen()
    rp = make_client(subject_type="public")
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope="openid")
    response = log_in(browser, attempt.start(browser), person.document, person.password, sms_file)
    page = browser.get(response.headers["Location"]).get_data(as_text=True)

    assert "un código igual para todos los organismos que lo reciben" in page
    assert "únicamente para este organismo" not in page
