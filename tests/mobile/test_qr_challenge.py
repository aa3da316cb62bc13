"""The login page's QR challenge is drafted in the browser's session and stored only when
that browser asks for it (its image or its status): a page load, a Permanent Cl@ve login and
a refused password write no challenge."""

from __future__ import annotations

import re

from idp.clock import clock
from idp.extensions import db
from idp.mobile.challenges import KEPT_WHILE, LIFETIME
from idp.mobile.models import MobileChallenge
from tests.factories import make_citizen, make_client, new_dni
from tests.flows.support import sql_work
from tests.mobile.support import API, continue_login, enroll, loaded, qr_challenge_id, signed_get
from tests.support.browser import AuthorizationAttempt, code_from, consent, log_in, shows_message, submit


def _challenges() -> list[MobileChallenge]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(MobileChallenge)))


def _login_page(browser, rp):  # type: ignore[no-untyped-def]
    """The login page as a client that does not load images or run scripts reads it."""
    return AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)


def test_a_login_page_writes_nothing_until_the_browser_asks_for_its_qr_code(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    rp = make_client()
    with sql_work(app) as work:
        page = _login_page(browser, rp)
    assert page.status_code == 200 and not work.writes_to("mobile_challenges") and _challenges() == []

    challenge_id = qr_challenge_id(loaded(browser, page))

    assert [c.id for c in _challenges()] == [challenge_id]
    details = signed_get(browser, device, f"{API}/challenges/{challenge_id}").get_json()
    assert details["requester"] == "Agencia de Pruebas"


def test_a_permanent_clave_login_stores_no_qr_challenge(app, browser, sms_file):
    person = make_citizen()
    rp = make_client()
    started = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
    with sql_work(app) as work:
        done = log_in(browser, started, person.document, person.password, sms_file)
    assert "/consent" in done.headers["Location"]
    assert not work.writes_to("mobile_challenges") and _challenges() == []


def test_the_status_poll_alone_stores_the_drafted_challenge(app, browser):
    page = _login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)

    answers = [browser.get(f"/mobile/status/{challenge_id}").get_json() for _ in range(2)]

    assert [a["status"] for a in answers] == ["pending", "pending"]
    assert [c.id for c in _challenges()] == [challenge_id]


def test_a_refused_password_shows_the_same_qr_code_again_and_stores_no_new_one(app, browser):
    page = loaded(browser, _login_page(browser, make_client()))
    with sql_work(app) as work:
        refused = submit(browser, page, "/login", document=new_dni(), password="Mala-Clave-1")
    assert shows_message(refused, "login_failed")
    assert qr_challenge_id(refused) == qr_challenge_id(page)
    assert not work.writes_to("mobile_challenges") and len(_challenges()) == 1


def test_a_page_shown_again_late_in_its_qr_codes_life_gets_a_new_one(app, browser):
    page = loaded(browser, _login_page(browser, make_client()))
    clock.advance(seconds=(LIFETIME - KEPT_WHILE).total_seconds() + 1)

    refused = submit(browser, page, "/login", document=new_dni(), password="Mala-Clave-1")

    assert qr_challenge_id(refused) != qr_challenge_id(page)
    left = re.search(r'data-expires-in="(\d+)"', refused.get_data(as_text=True)).group(1)
    assert int(left) >= LIFETIME.total_seconds() - 1


def test_each_login_page_shows_a_new_qr_code_that_its_tab_can_still_use(app, browser):
    rp = make_client()
    first, second = _login_page(browser, rp), _login_page(browser, rp)

    assert qr_challenge_id(first) != qr_challenge_id(second)
    for page in (second, first):  # the first tab's image may load after the second page
        assert loaded(browser, page)
    assert len(_challenges()) == 2


def test_an_expired_draft_is_announced_as_expired_and_never_stored(app, browser):
    page = _login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    clock.advance(minutes=5, seconds=1)

    status = browser.get(f"/mobile/status/{challenge_id}").get_json()
    continued = continue_login(browser, page, challenge_id)

    assert status["status"] == "expired" and status["expires_in"] == 0
    assert continued.status_code == 400 and shows_message(continued, "mobile_expired")
    assert _challenges() == []


def test_another_browser_cannot_store_or_see_a_drafted_challenge(app, browser):
    challenge_id = qr_challenge_id(_login_page(browser, make_client()))
    stranger = app.test_client()
    assert stranger.get(f"/mobile/qr/{challenge_id}.png").status_code == 404
    assert stranger.get(f"/mobile/status/{challenge_id}").status_code == 404
    assert _challenges() == []


def test_a_draft_whose_login_has_ended_is_not_stored(app, browser, sms_file):
    person = make_citizen()
    page = _login_page(browser, make_client())
    code_from(consent(browser, log_in(browser, page, person.document, person.password, sms_file)))

    assert browser.get(f"/mobile/qr/{qr_challenge_id(page)}.png").status_code == 404
    assert _challenges() == []

