"""The UI speaks every supported language: catalogues complete, compiled, and chosen right.

Catalogue checks extract the strings afresh (as scripts/update-translations.sh does), so a
string added to a template or to idp/messages.py without a translation fails here, naming
it. The functional checks go through the real pages.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import flask_babel
import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from idp.extensions import db
from idp.otp import send_otp
from idp.sms import latest_code, read_sms_file
from idp.web import LANGUAGE_COOKIE, LANGUAGES, language_tag, locale_from_tags, select_locale
from tests.factories import make_citizen
from tests.support.browser import submit

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "idp" / "translations"
FIX = "run scripts/update-translations.sh, translate, then make translations"

# A printf placeholder as Python's % operator reads it (%(name)s, %s, %%).
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
# Names that stay as they are in every language: a msgid made only of these (and digits,
# punctuation) may be its own translation.
_PROPER_NAMES = re.compile(r"Cl@ve|eIDAS|DNI|NIE|SMS|QR")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The messages of the code as it is now, extracted like scripts/update-translations.sh."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "--quiet", "extract", "--mapping-file", str(ROOT / "babel.cfg"),
        "--keyword", "_l", "--keyword", "lazy_gettext", "--keyword", "lazy_pgettext:1c,2",
        "--output-file", str(pot), str(ROOT),
    ])
    with pot.open("rb") as handle:
        return read_po(handle)


def catalogue(locale: str) -> Catalog:
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def entries(catalog: Catalog) -> list:  # type: ignore[type-arg]
    return [message for message in catalog if message.id]


def placeholders(text: str) -> Counter[str]:
    return Counter(_PLACEHOLDER.findall(text))


def strings(message) -> list[str]:  # type: ignore[no-untyped-def]
    value = message.string
    return list(value) if isinstance(value, tuple) else [value]


locales = pytest.mark.parametrize("locale", list(LANGUAGES))


def test_extraction_finds_templates_lazy_messages_and_the_sms(template: Catalog) -> None:
    ids = {message.id for message in entries(template)}
    assert {"Password", "The SMS code has 6 digits.", "Full name"} <= ids
    assert any(str(message.id).startswith("Cl@ve: your one-time code is") for message in entries(template))


@locales
def test_every_extracted_message_is_in_the_catalogue(template: Catalog, locale: str) -> None:
    known = {message.id for message in entries(catalogue(locale))}
    missing = [message.id for message in entries(template) if message.id not in known]
    assert not missing, f"{locale} lacks {len(missing)} message(s) ({FIX}): {missing}"


@locales
def test_catalogue_has_no_fuzzy_or_empty_translation(locale: str) -> None:
    catalog = catalogue(locale)
    assert not catalog.fuzzy, f"{locale}: the catalogue header is marked fuzzy"
    fuzzy = [message.id for message in entries(catalog) if message.fuzzy]
    empty = [message.id for message in entries(catalog) if not all(strings(message))]
    assert not fuzzy, f"{locale}: fuzzy entries are never compiled, translate them: {fuzzy}"
    assert not empty, f"{locale}: untranslated ({FIX}): {empty}"


@locales
def test_translations_keep_the_placeholders_of_the_source(locale: str) -> None:
    wrong = [
        (message.id, text) for message in entries(catalogue(locale)) for text in strings(message)
        if text and placeholders(text) != placeholders(message.id if isinstance(message.id, str)
                                                       else message.id[0])
    ]
    assert not wrong, f"{locale}: placeholders (%(name)s, %%) differ from the msgid: {wrong}"
    errors = [(message.id, error) for message, errors in catalogue(locale).check() for error in errors]
    assert not errors, errors


@locales
def test_template_translations_hold_no_markup_characters(locale: str) -> None:
    """In a template, Jinja's gettext marks the translation safe (only its %(name)s values are
    escaped), so a raw <, > or & in it would reach the page as markup: such characters go in
    through a placeholder (see _new_password.html) or a message of idp.messages."""
    raw = [(message.id, text) for message in entries(catalogue(locale))
           if any(place.endswith(".html") for place, _ in message.locations)
           for text in strings(message) + [message.id] if text and re.search(r"[<>&]", text)]
    assert not raw, f"{locale}: template strings with <, > or &: {raw}"


@pytest.mark.parametrize("locale", [locale for locale in LANGUAGES if locale != "en"])
def test_no_english_is_left_in_another_language(locale: str) -> None:
    """A msgstr equal to its English msgid is only right when the text is proper names."""
    copied = [message.id for message in entries(catalogue(locale))
              if message.string == message.id and re.search(r"[a-z]{3}", _PROPER_NAMES.sub("", message.id))]
    assert not copied, f"{locale}: still in English: {copied}"


@locales
def test_compiled_catalogue_matches_its_source(locale: str) -> None:
    """The .mo files are git-ignored build products: a stale one would show old texts."""
    mo = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo"
    assert mo.exists(), f"{mo.relative_to(ROOT)} is missing: run make translations"
    with mo.open("rb") as handle:
        compiled = {(message.context, message.id): message.string
                    for message in read_mo(handle) if message.id}
    source = {(message.context, message.id): message.string for message in entries(catalogue(locale))}
    assert compiled == source, f"{mo.relative_to(ROOT)} is out of date: run make translations"


def test_babel_loads_valencian_as_its_own_catalogue() -> None:
    locale = Locale.parse("ca_ES_VALENCIA")
    assert (locale.language, locale.territory, locale.variant) == ("ca", "ES", "VALENCIA")
    valencian = Translations.load(str(TRANSLATIONS), [locale])
    catalan = Translations.load(str(TRANSLATIONS), [Locale.parse("ca")])
    assert valencian.gettext("Identify yourself with Cl@ve") == "Identifique's amb Cl@ve"
    assert catalan.gettext("Identify yourself with Cl@ve") == "Identifiqueu-vos amb Cl@ve"


@pytest.mark.parametrize(("tags", "expected"), [
    ("ca-ES-valencia", "ca_ES_VALENCIA"), ("ca-ES-VALENCIA", "ca_ES_VALENCIA"),
    ("ca-valencia", "ca_ES_VALENCIA"), ("ca_ES_VALENCIA", "ca_ES_VALENCIA"), ("ca-ES", "ca"),
    ("fr eu-ES", "eu"), ("gl", "gl"), ("en-GB", "en"), ("fr de", None), ("", None),
])
def test_ui_locales_tags_map_to_catalogues(tags: str, expected: str | None) -> None:
    assert locale_from_tags(tags) == expected


@pytest.mark.parametrize(("accept", "expected"), [
    ("ca-ES-valencia,ca;q=0.8,es;q=0.5", "ca_ES_VALENCIA"), ("fr-FR,gl;q=0.7,en;q=0.6", "gl"),
    ("en-US,en;q=0.9", "en"), ("fr-FR,de;q=0.5", "es"), ("", "es"),
])
def test_accept_language_chooses_the_first_supported_language(app, accept: str, expected: str) -> None:
    with app.test_request_context("/login", headers={"Accept-Language": accept}):
        assert select_locale() == expected


def test_language_tags_are_bcp47() -> None:
    assert [language_tag(locale) for locale in LANGUAGES] == ["es", "ca", "gl", "eu", "ca-ES-valencia", "en"]


def login_page(browser, **headers: str) -> str:  # type: ignore[no-untyped-def]
    response = browser.get("/login", headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_login_page_is_in_spanish_by_default(app, browser) -> None:
    html = login_page(browser)
    assert '<html lang="es">' in html
    assert "Contraseña" in html and "Identifíquese con Cl@ve" in html
    assert ">Password<" not in html


def test_accept_language_english_gives_the_english_page(app, browser) -> None:
    html = login_page(browser, **{"Accept-Language": "en"})
    assert '<html lang="en">' in html and ">Password<" in html


def test_language_cookie_gives_the_catalan_page(app, browser) -> None:
    browser.set_cookie(LANGUAGE_COOKIE, "ca")
    html = login_page(browser, **{"Accept-Language": "en"})
    assert '<html lang="ca">' in html and ">Contrasenya<" in html


def test_valencian_page_uses_the_valencian_norm_and_a_valid_tag(app, browser) -> None:
    browser.set_cookie(LANGUAGE_COOKIE, "ca_ES_VALENCIA")
    html = login_page(browser)
    assert '<html lang="ca-ES-valencia">' in html
    assert "Identifique&#39;s amb Cl@ve" in html or "Identifique's amb Cl@ve" in html
    assert 'lang="ca-ES-valencia" selected' in html


def test_language_switcher_choice_sticks(app, browser) -> None:
    page = browser.get("/login")
    response = submit(browser, page, "/language", lang="gl", next="/login")
    assert response.status_code == 302
    assert ">Contrasinal<" in login_page(browser)


def test_form_error_from_the_message_catalogue_is_translated(app, browser) -> None:
    page = browser.get("/login")
    response = submit(browser, page, "/login", document="12345678A", password="whatever")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "La letra de este DNI/NIE no corresponde a su número. Compruébela." in html


def test_sms_text_is_translated_and_holds_one_six_digit_code(app, sms_file) -> None:
    send_otp(make_citizen().citizen, "translation-test")
    db.session.commit()
    text = read_sms_file(sms_file)[-1]["text"]
    assert text.startswith("Cl@ve: su código de un solo uso es ")
    assert re.findall(r"\d{6}", text) == [latest_code(sms_file)]


def test_a_page_looks_its_catalogue_up_once_not_for_every_string(app, browser, monkeypatch) -> None:
    lookups = Counter()
    looked_up = flask_babel.Domain.get_translations

    def counted(domain):  # type: ignore[no-untyped-def]
        lookups["catalogue"] += 1
        return looked_up(domain)

    monkeypatch.setattr(flask_babel.Domain, "get_translations", counted)
    html = login_page(browser)
    assert html.count("<li") > 10 and lookups["catalogue"] <= 3  # the page has some fifty strings


def test_each_request_is_translated_in_its_own_language(app, browser) -> None:
    for language, password in [("en", ">Password<"), ("ca", ">Contrasenya<"), ("en", ">Password<"),
                               ("es", ">Contraseña<")]:
        assert password in login_page(app.test_client(), **{"Accept-Language": language})
