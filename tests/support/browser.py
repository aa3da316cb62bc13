"""Driving the IdP's real forms through Flask's test client, as a browser would."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.sms import latest_code

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_IR = re.compile(r'name="ir" value="([^"]*)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def submit(browser: FlaskClient, page: TestResponse, url: str, **fields: str) -> TestResponse:
    """POST a form of ``page`` with its CSRF token and hidden interaction id."""
    html = page.get_data(as_text=True)
    data = {"csrf_token": csrf_token(html), **fields}
    ir = _IR.search(html)
    if ir and "ir" not in fields:
        data["ir"] = ir.group(1)
    return browser.post(url, data=data)


_LOGIN_FORM = 'action="/login"'


def asks_to_log_in(response: TestResponse) -> bool:
    """Whether ``response`` asks the citizen to log in: the login page itself (what an
    authorization request that needs a login answers) or a redirect to it."""
    if response.status_code == 302:
        return urlsplit(response.headers["Location"]).path == "/login"
    return response.status_code == 200 and _LOGIN_FORM in response.get_data(as_text=True)


def page_address(page: TestResponse) -> str:
    """The page's own address (where its language form returns, and what a reload asks for),
    whichever request showed it."""
    match = re.search(r'name="next" value="([^"]+)"', page.get_data(as_text=True))
    assert match, "page has no language form"
    return match.group(1)


def query(response: TestResponse) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


@dataclass
class AuthorizationAttempt:
    """One authorization request from a test RP, with its PKCE verifier, state and nonce."""

    client_id: str
    redirect_uri: str
    scope: str = "openid profile"
    extra: dict[str, str] = field(default_factory=dict)
    state: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    verifier: str = ""
    challenge: str = ""

    def __post_init__(self) -> None:
        self.verifier, self.challenge = pkce_pair()

    def params(self) -> dict[str, str]:
        return {"response_type": "code", "client_id": self.client_id,
                "redirect_uri": self.redirect_uri, "scope": self.scope, "state": self.state,
                "nonce": self.nonce, "code_challenge": self.challenge,
                "code_challenge_method": "S256", **self.extra}

    def start(self, browser: FlaskClient) -> TestResponse:
        return browser.get("/authorize", query_string=self.params())


def log_in(browser: FlaskClient, response: TestResponse, document: str, password: str,
           sms_file: Path | None = None) -> TestResponse:
    """From the login page (or a redirect to it), through password (and SMS code), to what follows."""
    if response.status_code == 302:
        response = browser.get(response.headers["Location"])
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response
    result = submit(browser, page, "/login", document=document, password=password)
    if is_login_sms_page(result):
        assert sms_file is not None, "an SMS step needs the SMS file"
        result = submit(browser, result, "/login/otp", otp=latest_code(sms_file))
    return result


def is_sms_page(response: TestResponse, path: str) -> bool:
    """Whether ``response`` is the SMS-code page of the flow whose step is at ``path``, a
    code sent (the form before it answers that page itself)."""
    html = response.get_data(as_text=True)
    return response.status_code == 200 and f'<form method="post" action="{path}"' in html \
        and 'name="otp"' in html


def is_login_sms_page(response: TestResponse) -> bool:
    return is_sms_page(response, "/login/otp")


def log_in_to_account(browser: FlaskClient, document: str, password: str,
                      sms_file: Path) -> TestResponse:
    """A login on the IdP's own page (no relying party): password, then the SMS code the
    account page needs; the answer sends to /account."""
    result = log_in(browser, browser.get("/login"), document, password, sms_file)
    assert result.status_code == 302 and result.headers["Location"] == "/account", (
        result.status_code, result.headers.get("Location"))
    return result


def consent(browser: FlaskClient, response: TestResponse, decision: str = "allow") -> TestResponse:
    assert response.status_code == 302 and "/consent" in response.headers["Location"], (
        response.status_code, response.headers.get("Location"))
    page = browser.get(response.headers["Location"])
    return submit(browser, page, "/consent", decision=decision)


def code_from(response: TestResponse) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    return query(response)["code"]


def shows_message(response: TestResponse, key: str, **params: object) -> bool:
    """Whether the page shows catalogue message ``key``, in the locale of the test's context
    (the product default, Spanish, unless the test chose another)."""
    from markupsafe import escape

    from idp.messages import message

    return str(escape(message(key, **params))) in response.get_data(as_text=True)
