"""Steps shared by the credential-lifecycle tests: fill a form, pass the SMS step, choose
a password, get and refresh OIDC tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.test import TestResponse

from idp.clock import clock
from idp.extensions import db
from idp.sms import latest_code, read_sms_file
from tests.oidc.test_code_flow import basic, redeem
from tests.support.browser import (
    AuthorizationAttempt,
    asks_to_log_in,
    code_from,
    consent,
    log_in,
    shows_message,
    submit,
)

NEW_PASSWORD = "Otra-Clave-2027!"  # noqa: S105
# Fails four rules at once (length, upper case, digit, special) and its confirmation differs.
WEAK = {"new_password": "abc", "new_password_confirm": "abd"}
WEAK_PASSWORD_PROBLEMS = ("password_too_short", "password_needs_uppercase", "password_needs_digit",
                          "password_needs_special", "password_mismatch")


def fill(browser: FlaskClient, url: str, **fields: str) -> TestResponse:
    """Open the form at ``url`` and send it, CSRF token included."""
    return submit(browser, browser.get(url), url, **fields)


def pass_sms(browser: FlaskClient, url: str, sms_file: Path) -> TestResponse:
    return fill(browser, url, otp=latest_code(sms_file) or "")


def wrong_code(sms_file: Path) -> str:
    return "000000" if latest_code(sms_file) != "000000" else "111111"


def never_sent_code(sms_file: Path) -> str:
    """A 6-digit code that no SMS sent so far carries."""
    sent = {re.search(r"\d{6}", sms["text"]).group(0) for sms in read_sms_file(sms_file)}  # type: ignore[union-attr]
    return next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in sent)


def sms_sent(sms_file: Path) -> int:
    return len(read_sms_file(sms_file))


def start_of_a_window(seconds: int) -> None:
    """Rate limits count in windows of ``seconds``: start the test at the beginning of one,
    so that its attempts are not split between two."""
    clock.advance(seconds=seconds - clock.timestamp() % seconds)


@dataclass
class SqlWork:
    statements: int = 0
    commits: int = 0
    sql: list[str] = field(default_factory=list, compare=False)  # what, beside how many

    def writes_to(self, table: str) -> list[str]:
        return [s for s in self.sql if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
                and table in s]


@contextmanager
def sql_work(app: Flask) -> Iterator[SqlWork]:
    """The SQL statements and commits ``app`` sends its database meanwhile: what tells two
    answers apart by their timing, beside the answers themselves."""
    with app.app_context():
        engine = db.engine
    work = SqlWork()

    def statement(_connection: object, _cursor: object, sql: str, *_: object) -> None:
        work.statements += 1
        work.sql.append(sql)

    def commit(*_: object) -> None:
        work.commits += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        yield work
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


def choose_password(browser: FlaskClient, url: str, password: str = NEW_PASSWORD) -> TestResponse:
    return fill(browser, url, new_password=password, new_password_confirm=password)


def refusal(response: TestResponse) -> str:
    """The page's main content without the values typed or the CSRF token."""
    html = response.get_data(as_text=True)
    main = re.search(r"<main.*?</main>", html, re.S)
    assert main, html
    return re.sub(r'value="[^"]*"', 'value=""', main.group(0))


def tokens_for(browser: FlaskClient, sms_file: Path, rp, person) -> dict:  # type: ignore[no-untyped-def]
    """An RP's tokens for ``person``, logging in and consenting in ``browser`` as needed."""
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    response = attempt.start(browser)
    if asks_to_log_in(response):
        response = log_in(browser, response, person.document, person.password, sms_file)
    if "/consent" in response.headers.get("Location", ""):
        response = consent(browser, response)
    tokens = redeem(browser, rp, attempt, code_from(response))
    assert tokens.status_code == 200, tokens.get_json()
    return tokens.get_json()


def refresh(browser: FlaskClient, rp, refresh_token: str) -> TestResponse:  # type: ignore[no-untyped-def]
    return browser.post("/token", headers=basic(rp.client_id, rp.secret),
                        data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def attempts_until_blocked(app: Flask, url: str, address: str, **fields: str) -> list:
    """Six refused attempts from a fresh address: for each, the answer, whether it says
    "blocked", and the SQL work it took."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    answers = []
    for _ in range(6):
        page = browser.get(url)
        with sql_work(app) as work:
            answer = submit(browser, page, url, **fields)
        answers.append((answer.status_code, refusal(answer),
                        shows_message(answer, "activation_code_blocked"), work))
    return answers

