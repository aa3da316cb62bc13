"""Named rate limits: per address and per document, shared through the database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from idp.clock import clock
from idp.extensions import db
from idp.ratelimit import DatabaseRateLimiter, Limit, Refused, parse_limits
from tests.factories import make_citizen, new_dni
from tests.support.browser import is_login_sms_page, shows_message, submit


def test_limits_are_parsed_from_their_compact_form():
    assert parse_limits("login.ip=30/300 otp.ip=5/60") == {"login.ip": Limit(30, 300),
                                                           "otp.ip": Limit(5, 60)}


def test_database_counter_takes_slots_up_to_the_limit_and_restarts_in_the_next_window(app):
    limiter, limit = DatabaseRateLimiter(), Limit(3, 60)
    assert [not isinstance(limiter.reserve([("k", limit)]), Refused)
            for _ in range(4)] == [True, True, True, False]
    assert limiter.count("k", 60) == 3
    clock.advance(seconds=60)
    assert limiter.count("k", 60) == 0 and limiter.reserve([("k", limit)]) == [60 * (clock.timestamp() // 60)]


def test_a_slot_given_back_can_be_taken_again_but_not_in_a_later_window(app):
    limiter, limit = DatabaseRateLimiter(), Limit(1, 60)
    window = limiter.reserve([("k", limit)])
    assert limiter.reserve([("k", limit)]) == Refused({"k"})
    limiter.release([("k", window[0])])
    assert limiter.reserve([("k", limit)]) == window
    later = limiter.reserve([("later", limit)])
    clock.advance(seconds=60)
    limiter.reserve([("later", limit)])
    limiter.release([("later", later[0])])  # of the window before: the new one keeps its slot
    assert limiter.count("later", 60) == 1


def test_when_one_limit_is_full_no_slot_of_the_others_is_taken(app):
    limiter = DatabaseRateLimiter()
    limiter.reserve([("document", Limit(1, 60))])
    assert limiter.reserve([("address", Limit(5, 60)), ("document", Limit(1, 60))]) == Refused({"document"})
    assert limiter.count("address", 60) == 0 and limiter.count("document", 60) == 1


def test_parallel_reservations_never_take_more_slots_than_the_limit(app):
    def reserve(_: int) -> bool:
        with app.app_context():
            taken = not isinstance(DatabaseRateLimiter().reserve([("k", Limit(5, 300))]), Refused)
            db.session.commit()  # as the request that took it: the others wait for its row
            return taken

    with ThreadPoolExecutor(max_workers=16) as pool:
        taken = list(pool.map(reserve, range(16)))
    assert taken.count(True) == 5
    assert DatabaseRateLimiter().count("k", 300) == 5


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


def test_right_passwords_give_their_slot_back_and_are_not_counted(app, browser):
    app.config["IDP_RATE_LIMITS"] = "login.ip=2/300 login.document=2/300"
    person = make_citizen()
    for _ in range(3):
        page = browser.get("/login")
        answer = submit(browser, page, "/login", document=person.document, password=person.password)
        assert is_login_sms_page(answer)
