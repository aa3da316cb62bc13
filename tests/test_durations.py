"""Lengths of time the citizen reads come from the settings that define them, exactly and
in the page's language, so that a deployment that changes a lifetime never states the
default one."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from idp import durations
from idp.sms import read_sms_file
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
