"""Steps of the passkey tests through the IdP's real pages and forms (Flask test client),
with a software authenticator standing in for the browser's."""

from __future__ import annotations

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.passkeys.authenticator import SoftAuthenticator
from tests.support.browser import csrf_token, submit


def options(browser: FlaskClient, page: TestResponse, url: str) -> dict:
    """What the page's script fetches before the ceremony (with the page's CSRF token)."""
    answer = browser.post(url, headers={"X-CSRFToken": csrf_token(page.get_data(as_text=True)),
                                        "Accept": "application/json"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def add_passkey(browser: FlaskClient, authenticator: SoftAuthenticator, name: str = "Mi móvil",
                **answer: object) -> TestResponse:
    """On the account page (logged in at substantial level): "Add a passkey"."""
    page = browser.get("/account")
    created = authenticator.create(options(browser, page, "/account/passkeys/options"), **answer)  # type: ignore[arg-type]
    return submit(browser, page, "/account/passkeys", name=name, credential=created)


def login_options(browser: FlaskClient, page: TestResponse | None = None) -> tuple[TestResponse, dict]:
    page = page or browser.get("/login")
    return page, options(browser, page, "/login/passkey/options")


def log_in_with(browser: FlaskClient, authenticator: SoftAuthenticator, page: TestResponse | None = None,
                **answer: object) -> TestResponse:
    """On the login page (or ``page``): "Log in with a passkey", answered by ``authenticator``."""
    page, asked = login_options(browser, page)
    return submit(browser, page, "/login/passkey", credential=authenticator.get(asked, **answer))  # type: ignore[arg-type]
