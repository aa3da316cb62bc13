"""The login page and the SMS-code page are kept per language and what changes their text,
each request's own values filled in (idp.kept_pages): each is the page rendered whole, in
every language and state."""

from __future__ import annotations

import re
from functools import partial

import pytest
from flask import render_template

from idp.flows import forms
from idp.flows.login import LOGIN_PAGE, RENEWAL_STEPS, STEPS, login_page, login_stand_ins
from idp.flows.otp_step import OTP_PAGE, otp_page, otp_stand_ins
from idp.oidc import interaction
from idp.web import LANGUAGES, language_tag
from tests.factories import make_client
from tests.mobile.support import qr_challenge_id
from tests.support.browser import csrf_token

# A relying party's name and a login hint hold what HTML must escape.
RP_NAME = 'Agencia "Tributaria" <Pruebas> & Co'
HINT = '12345678Z"><script>alert(1)</script>'


def refused_password() -> forms.FormErrors:
    errors = forms.FormErrors()
    errors.add("password", "login_failed")
    return errors


STATES = {
    "without a relying party": dict(pending=False, errors=None, passkey_problem=None),
    "for a relying party": dict(pending=True, errors=None, passkey_problem=None),
    "after a wrong password": dict(pending=True, errors=refused_password(), passkey_problem=None),
    "after a refused passkey": dict(pending=False, errors=None, passkey_problem="passkey_failed"),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("state", list(STATES))
def test_the_kept_login_page_is_the_page_rendered_whole(app, language, state):
    case = STATES[state]
    rp = make_client() if case["pending"] else None
    if rp:
        rp.client.name = RP_NAME
    for _ in range(2):  # the first renders and keeps the text, the second fills it in
        with app.test_request_context(f"/login?ui_locales={language_tag(language)}&x=<y>"):
            pending = interaction.store(rp.client, {"login_hint": HINT}) if rp else None
            key, context, values = login_page(pending, case["errors"], "", case["passkey_problem"])
            whole = render_template(LOGIN_PAGE.template, **context)
            kept = LOGIN_PAGE.render(key, context, values, partial(login_stand_ins, pending is not None))
            assert kept == whole


def test_each_browser_gets_a_login_page_with_its_own_csrf_token_and_qr_challenge(app):
    pages = [app.test_client().get("/login") for _ in range(2)]
    assert csrf_token(pages[0].get_data(as_text=True)) != csrf_token(pages[1].get_data(as_text=True))
    assert qr_challenge_id(pages[0]) != qr_challenge_id(pages[1])
    assert not re.search(r"kept[0-9a-f]{16}s[0-9]+x", pages[1].get_data(as_text=True))


SMS_STATES = {
    "a code sent for a relying party": dict(problem=None, code_sent=True, pending=True, intro_key=None),
    "a wrong code": dict(problem="otp_wrong", code_sent=True, pending=True, intro_key=None),
    "a code sent again": dict(problem="otp_resent", code_sent=True, pending=False, intro_key=None),
    "codes locked for a while": dict(problem="otp_locked", code_sent=True, pending=False, intro_key=None),
    "no code sent": dict(problem="sms_unavailable", code_sent=False, pending=False, intro_key=None),
    "an expired password": dict(problem=None, code_sent=True, pending=True, intro_key="password_expired"),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("state", list(SMS_STATES))
def test_the_kept_sms_code_page_is_the_page_rendered_whole(app, language, state):
    case = SMS_STATES[state]
    rp = make_client() if case["pending"] else None
    if rp:
        rp.client.name = RP_NAME
    for _ in range(2):  # the first renders and keeps the text, the second fills it in
        with app.test_request_context(f"/login/otp?ui_locales={language_tag(language)}&x=<y>"):
            pending = interaction.store(rp.client, {}) if rp else None
            key, context, values = otp_page({
                "problem": case["problem"], "code_sent": case["code_sent"], "last_digits": '9"<8',
                "wait": "<5 minutes>" if case["problem"] == "otp_locked" else "", "action": "/login/otp",
                "flow_steps": RENEWAL_STEPS if case["intro_key"] else STEPS, "page_path": "/login/otp?x=<y>",
                "intro_key": case["intro_key"], "pending": pending})
            whole = render_template(OTP_PAGE.template, **context)
            kept = OTP_PAGE.render(key, context, values, partial(otp_stand_ins, pending is not None))
            assert kept == whole


def test_a_page_kept_by_one_app_is_never_served_by_another_with_other_settings(app, tmp_path):
    from idp.kept_pages import KeptPage
    from tests.conftest import build_app

    home = KeptPage("home.html", "login_session")
    one_year = build_app(tmp_path, IDP_PASSWORD_LIFETIME_DAYS=365)
    pages = []
    for server in (app, one_year, app):
        with server.test_request_context("/", headers={"Accept-Language": "en"}):
            pages.append(home.render("home", {}, {"login_session": ""},
                                     lambda: {"login_session": None}))
    assert "valid for 2 years" in pages[0] and "valid for 1 year" in pages[1]
    assert pages[2] == pages[0]
