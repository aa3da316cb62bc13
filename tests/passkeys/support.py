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


def citizen_with_passkey(app, sms_file, authenticator: SoftAuthenticator | None = None,
                         **citizen: object):  # type: ignore[no-untyped-def]
    """An active citizen who added ``authenticator`` (a new one by default) on the account
    page, in a browser of their own. Returns the citizen and the authenticator."""
    from tests.factories import make_citizen
    from tests.support.browser import log_in_to_account

    person = make_citizen(**citizen)  # type: ignore[arg-type]
    authenticator = authenticator or SoftAuthenticator()
    own_browser = app.test_client()
    log_in_to_account(own_browser, person.document, person.password, sms_file)
    added = add_passkey(own_browser, authenticator)
    assert added.status_code == 302, added.get_data(as_text=True)
    return person, authenticator


def state_of(person) -> tuple:  # type: ignore[no-untyped-def]
    """What a refused login must leave as it was: the citizen's passkeys (count, backup
    state, last use, revocation) and login sessions."""
    from idp.extensions import db
    from idp.models import LoginSession
    from idp.passkeys.models import Passkey

    db.session.expire_all()
    passkeys = db.session.execute(
        db.select(Passkey.id, Passkey.sign_count, Passkey.backed_up, Passkey.last_used_at,
                  Passkey.revoked_at).filter_by(citizen_id=person.citizen.id).order_by(Passkey.id)).all()
    sessions = db.session.scalar(db.select(db.func.count()).select_from(LoginSession)
                                 .filter_by(citizen_id=person.citizen.id))
    return tuple(map(tuple, passkeys)), sessions
