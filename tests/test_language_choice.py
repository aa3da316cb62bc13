"""A language chosen by an RP's ui_locales or by the switcher stays for the rest of the
visit, on every page reached from the login page; ``<html lang>`` names the language the
text is actually in."""

from __future__ import annotations

import re
import shutil
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from babel.support import Translations

from idp.extensions import babel
from idp.web import LANGUAGE_COOKIE, LANGUAGES, language_tag
from tests.factories import make_client
from tests.support.browser import AuthorizationAttempt, asks_to_log_in, page_address, submit
from tests.test_translations import TRANSLATIONS

locales = pytest.mark.parametrize("locale", list(LANGUAGES))


def other_browser_language(locale: str) -> str:
    """An Accept-Language that would choose another language, were it used."""
    return "es" if locale == "en" else "en"


def start_at_rp(browser, locale: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    """An RP's authorization request (asking for ``locale``): the login page it answers with."""
    rp = make_client()
    extra = {"ui_locales": language_tag(locale)} if locale else {}
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, extra=extra)
    login = browser.get("/authorize", query_string=attempt.params(), headers=headers)
    assert login.status_code == 200 and asks_to_log_in(login)
    return login


def language_cookie(response):  # type: ignore[no-untyped-def]
    """The language cookie the response sets, with its attributes; None if it sets none."""
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie(header)
        if LANGUAGE_COOKIE in cookie:
            return cookie[LANGUAGE_COOKIE]
    return None


def language_of(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', html)
    assert match, html[:200]
    return match.group(1)


def service_links(login_page: str) -> list[str]:
    """Every page the login page links to, in its content and in its footer."""
    found = re.findall(r'<a href="(/[^"#?]*)"', login_page)
    return sorted(set(found) - {"/"}) + ["/"]


def says_in(locale: str, html: str) -> bool:
    """The page holds the layout's texts in ``locale`` (skip link, footer)."""
    catalogue = Translations.load(str(TRANSLATIONS), [locale])
    return all(catalogue.gettext(text) in html for text in
               ("Skip to content", "Cl@ve — electronic identity for public administrations."))


@locales
def test_a_language_asked_by_the_rp_stays_on_every_page_reached_from_the_login_page(
        app, browser, locale: str) -> None:
    browser_language = {"Accept-Language": other_browser_language(locale)}
    login = start_at_rp(browser, locale, **browser_language)
    html = login.get_data(as_text=True)
    assert language_of(html) == language_tag(locale) and says_in(locale, html)

    pages = service_links(html)
    assert {"/activate", "/password/change", "/password/forgot", "/activation-code/regenerate",
            "/register/certificate", "/unsubscribe", "/account"} <= set(pages)
    for page in pages:
        response = browser.get(page, headers=browser_language, follow_redirects=True)
        shown = response.get_data(as_text=True)
        assert language_of(shown) == language_tag(locale), page
        assert says_in(locale, shown), page
        assert f'<option value="{locale}" lang="{language_tag(locale)}" selected>' in shown, page


def test_the_rp_language_is_kept_in_a_cookie_for_the_visit_only(app, browser) -> None:
    authorize = start_at_rp(browser, "eu")

    cookie = language_cookie(authorize)
    assert cookie.value == "eu"
    assert cookie["path"] == "/" and cookie["samesite"] == "Lax" and cookie["httponly"]
    assert not cookie["max-age"] and not cookie["expires"]  # gone when the browser closes


def test_the_switcher_choice_is_kept_beyond_the_visit(app, browser) -> None:
    page = browser.get("/login")
    response = submit(browser, page, "/language", lang="gl", next="/login")

    cookie = language_cookie(response)
    assert cookie.value == "gl" and int(cookie["max-age"]) == 365 * 86400
    assert cookie["samesite"] == "Lax" and cookie["httponly"]


def test_cookies_are_marked_secure_behind_https(template_dir, tmp_path) -> None:
    from tests.conftest import build_app, prepare_files

    prepare_files(template_dir, tmp_path)
    secure = build_app(tmp_path, IDP_SECURE_COOKIES=True).test_client()
    page = secure.get("/login", base_url="https://localhost")
    response = submit(secure, page, "/language", lang="gl", next="/login")
    assert language_cookie(response)["secure"]


def test_the_switcher_overrides_the_rp_language_on_the_pages_of_its_login(app, browser) -> None:
    login = start_at_rp(browser, "ca")
    login_url = page_address(login)
    assert login_url.startswith("/login?ir=")

    submit(browser, login, "/language", lang="gl", next=login_url)
    html = browser.get(login_url).get_data(as_text=True)

    assert language_of(html) == "gl" and ">Contrasinal<" in html
    assert language_of(browser.get("/activate").get_data(as_text=True)) == "gl"


def test_a_browser_without_the_cookie_still_gets_the_rp_language_on_its_login(app, browser) -> None:
    login = start_at_rp(browser, "ca")
    browser.delete_cookie(LANGUAGE_COOKIE)

    html = browser.get(page_address(login), headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert language_of(html) == "ca" and ">Contrasenya<" in html


def test_a_refused_authorization_request_changes_no_language(app, browser) -> None:
    response = browser.get("/authorize", query_string={"client_id": "unknown", "ui_locales": "eu"})

    assert response.status_code == 400 and language_of(response.get_data(as_text=True)) == "eu"
    assert language_cookie(response) is None


@pytest.fixture
def catalogues(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder of compiled catalogues the app loads from (as a package installed
    without its .mo files), with nothing cached from the real ones."""
    folder = tmp_path / "translations"
    folder.mkdir()
    monkeypatch.setattr(app.extensions["babel"], "translation_directories", [str(folder)])
    monkeypatch.setattr(babel.domain_instance, "cache", {})
    return folder


def test_a_page_without_its_catalogue_says_it_is_english(app, browser, catalogues: Path) -> None:
    html = browser.get("/login").get_data(as_text=True)  # Spanish chosen: the default

    assert language_of(html) == "en" and ">Password<" in html


def test_a_valencian_page_without_its_catalogue_says_it_is_catalan(app, browser, catalogues: Path) -> None:
    shutil.copytree(TRANSLATIONS / "ca", catalogues / "ca")
    browser.set_cookie(LANGUAGE_COOKIE, "ca_ES_VALENCIA")

    html = browser.get("/login").get_data(as_text=True)
    assert language_of(html) == "ca" and ">Contrasenya<" in html
    assert '<option value="ca_ES_VALENCIA" lang="ca-ES-valencia" selected>' in html  # as chosen


@locales
def test_page_titles_name_cl_ve_once(app, browser, locale: str) -> None:
    browser.set_cookie(LANGUAGE_COOKIE, locale)
    login = browser.get("/login").get_data(as_text=True)
    for page in ["/login", *service_links(login)]:
        title = re.search(r"<title>(.*?)</title>", browser.get(page, follow_redirects=True)
                          .get_data(as_text=True), re.S).group(1)
        assert title.count("Cl@ve") == 1, (page, title)


def test_the_home_page_title_says_what_the_site_is(app, browser) -> None:
    html = browser.get("/").get_data(as_text=True)
    assert "<title>Cl@ve: su identidad electrónica para los servicios públicos</title>" in html
