"""Named rate limits: per address and per document, shared through the database."""

from __future__ import annotations

from idp.clock import clock
from idp.extensions import db
from idp.ratelimit import DatabaseRateLimiter, Limit, parse_limits
from tests.factories import make_citizen, new_dni
from tests.support.browser import shows_message, submit


def test_limits_are_parsed_from_their_compact_form():
    assert parse_limits("login.ip=30/300 otp.ip=5/60") == {"login.ip": Limit(30, 300),
                                                           "otp.ip": Limit(5, 60)}


def test_database_counter_counts_within_a_window_and_restarts_in_the_next(app):
    limiter = DatabaseRateLimiter()
    assert [limiter.hit("k", 60) for _ in range(3)] == [1, 2, 3]
    clock.advance(seconds=60)
    assert limiter.count("k", 60) == 0 and limiter.hit("k", 60) == 1


def test_login_attempts_beyond_the_document_limit_get_429_even_with_the_right_password(app, browser):
    app.config["IDP_RATE_LIMITS"] = "login.document=3/300"
    person = make_citizen()
    page = browser.get("/login")
    for _ in range(3):
        page = submit(browser, page, "/login", document=person.document, password="Mala-Clave-1")
    refused = submit(browser, page, "/login", document=person.document, password=person.password)
    assert refused.status_code == 429 and shows_message(refused, "rate_limited")
    db.session.refresh(person.citizen)
    assert person.citizen.password_failures == 3


def test_the_limit_treats_unknown_and_known_documents_alike(app, browser):
    app.config["IDP_RATE_LIMITS"] = "login.document=2/300"
    page = browser.get("/login")
    unknown = new_dni()
    for _ in range(2):
        page = submit(browser, page, "/login", document=unknown, password="x")
    assert submit(browser, page, "/login", document=unknown, password="x").status_code == 429
