"""Lengths of time the citizen reads come from the settings that define them, exactly and
in the page's language, so that a deployment that changes a lifetime never states the
default one."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import babel.core
import babel.localedata
import pytest
from babel.dates import format_timedelta
from babel.units import format_unit
from flask_babel import force_locale

from idp import durations, otp
from idp.flows import otp_step
from idp.sms import read_sms_file
from idp.web import LANGUAGE_COOKIE, LANGUAGES
from tests.conftest import build_app
from tests.factories import make_citizen
from tests.flows.support import fill

START = "/password/change"


@pytest.mark.parametrize(("seconds", "locale", "text"), [
    (730 * 86400, "en", "2 years"), (730 * 86400, "es", "2 años"), (730 * 86400, "eu", "2 urte"),
    (400 * 86400, "en", "400 days"), (14 * 86400, "en", "2 weeks"), (300, "gl", "5 minutos"),
    (7200, "ca", "2 hores"), (90, "en", "90 seconds"), (60, "en", "1 minute"),
])
def test_a_lifetime_reads_exactly_in_the_largest_unit_that_divides_it(app, seconds, locale, text):
    with force_locale(locale):
        assert durations.exact(seconds) == text


def test_a_lifetime_said_once_in_one_language_is_said_in_the_next_pages_own(app):
    said = []
    for locale in ("es", "en", "es", "ca_ES_VALENCIA", "ca"):
        with force_locale(locale):
            said.append(durations.exact(300))
    assert said == ["5 minutos", "5 minutes", "5 minutos", "5 minuts", "5 minuts"]


def test_the_pages_state_the_default_two_year_password_lifetime(browser):
    page = browser.get(START, headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "caduca 2 años después" in page and "durante 2 años más" in page


def test_a_deployment_with_a_one_year_password_says_one_year_on_its_pages(app, tmp_path):
    one_year = build_app(tmp_path, IDP_PASSWORD_LIFETIME_DAYS=365).test_client()
    page = one_year.get(START, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Your password expires 1 year after you set it" in page
    assert "2 years" not in page


def test_the_sms_code_states_the_default_five_minute_lifetime(browser, sms_file):
    person = make_citizen()
    fill(browser, START, document=person.document, password=person.password)
    assert "Es válido durante 5 minutos." in read_sms_file(sms_file)[-1]["text"]


def test_the_sms_code_states_the_lifetime_the_deployment_set(app, tmp_path, sms_file):
    two_minutes = build_app(tmp_path, IDP_OTP_TTL=120).test_client()
    person = make_citizen()
    fill(two_minutes, START, document=person.document, password=person.password)
    assert "Es válido durante 2 minutos." in read_sms_file(sms_file)[-1]["text"]


@pytest.mark.parametrize("locale", sorted(LANGUAGES))
def test_a_lifetime_in_each_language_of_the_app_reads_as_babel_says_it(locale):
    units = [unit for unit, _ in durations._UNITS] + [durations._SECOND]
    for unit in units:
        for count in (0, 1, 2, 5, 21, 999, 1000, 1001, 10000, 123456, 1000000, 2000000, 12345678):
            assert durations.said(count, unit, locale) == format_unit(count, unit, length="long",
                                                                      locale=locale), (unit, count)


def test_a_language_outside_the_apps_is_said_by_babel():
    assert durations.said(3, "duration-day", "fr") == "3\xa0jours"  # CLDR's French, a no-break space


def test_an_sms_code_and_a_password_lifetime_are_said_without_loading_cldr_data(browser, sms_file,
                                                                                monkeypatch):
    # Babel keeps what it loads for the process's life: 4 MB for one language (its data,
    # its parents' and CLDR's global table), in every worker that had sent an SMS code.
    # Emptied of what earlier tests in this process loaded (each language's data is cached
    # twice: as loaded, and wrapped for lookups).
    monkeypatch.setattr(babel.localedata, "_cache", {})
    monkeypatch.setattr(babel.localedata, "_dict_cache", {})
    monkeypatch.setattr(babel.core, "_global_data", None)
    for language, lifetime in (("es", "2 años"), ("eu", "2 urte"), ("gl", "2 anos")):
        person = make_citizen()  # each a flow of its own: a form posted again sends no other code
        browser.set_cookie(LANGUAGE_COOKIE, language)
        assert lifetime in browser.get(START).get_data(as_text=True)
        fill(browser, START, document=person.document, password=person.password)
    texts = [sms["text"] for sms in read_sms_file(sms_file)]
    assert len(texts) == 3 and "Es válido durante 5 minutos." in texts[0], texts
    assert babel.localedata._cache == babel.localedata._dict_cache == {}
    assert babel.core._global_data is None


@pytest.mark.parametrize("locale", sorted(LANGUAGES))
def test_a_wait_on_the_sms_page_reads_as_babels_format_timedelta_said_it(app, locale, monkeypatch):
    # The page said it with format_timedelta (seconds under a minute, else whole minutes,
    # in hours when whole), which loaded the language's whole CLDR data.
    now = datetime(2026, 1, 1)
    monkeypatch.setattr(otp.clock, "now", lambda: now)
    for seconds in (1, 30, 59, 60, 61, 119, 120, 3000, 3599, 3600, 3601, 5400, 7200, 82800, 86400):
        minutes = math.ceil(seconds / 60)
        babel_said = (format_timedelta(timedelta(seconds=seconds), threshold=1, locale=locale)
                      if seconds < 60 else
                      format_timedelta(timedelta(minutes=minutes), granularity="minute", locale=locale,
                                       threshold=1 if minutes % 60 == 0 else math.inf))
        with force_locale(locale):
            assert otp_step.wait_text(now + timedelta(seconds=seconds)) == babel_said, seconds


def test_a_wait_is_never_said_shorter_than_it_is(app, monkeypatch):
    # Babel rounded 25 hours to "1 day"; a citizen told to wait a day would come back early.
    now = datetime(2026, 1, 1)
    monkeypatch.setattr(otp.clock, "now", lambda: now)
    with force_locale("en"):
        assert otp_step.wait_text(now + timedelta(hours=25)) == "25 hours"
