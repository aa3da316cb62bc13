"""One unit of work per request: each request commits once, when its view has answered
(besides the named early commits of ``idp.unit_of_work.CommitReason``), a refusal commits
what it counted, and an exception rolls everything back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import event

from idp import ratelimit
from idp.audit import EventTag, record_event
from idp.clock import clock
from idp.extensions import db
from idp.mobile.models import ChallengeStatus, MobileChallenge
from idp.models import AuditEvent, Citizen, LoginSession
from idp.oidc.models import UsedJwtId
from idp.ratelimit import RateCounter
from idp.sms import latest_code
from idp.unit_of_work import CommitReason, extra_commit
from tests.factories import make_citizen, make_client
from tests.flows.support import NEW_PASSWORD, fill
from tests.mobile.support import (
    continue_login,
    decide,
    enroll,
    login_page,
    qr_challenge_id,
    shown_code,
    signed_get,
)
from tests.oidc.test_code_flow import basic
from tests.support.browser import (
    AuthorizationAttempt,
    asks_to_log_in,
    code_from,
    consent,
    log_in,
    log_in_to_account,
    page_address,
    submit,
)

SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
# A login with password and SMS code, from the RP's redirect to UserInfo (5 requests: the
# password answers the SMS-code page).
FULL_LOGIN_STATEMENTS = 25


@dataclass
class Work:
    statements: int = 0
    commits: int = 0
    early: list[CommitReason] = field(default_factory=list)


@contextmanager
def counting(app: Flask) -> Iterator[Work]:
    """The statements and commits the server sends its database meanwhile, and the reasons
    of the commits made besides each request's own."""
    with app.app_context():
        engine = db.engine
    work = Work()

    def statement(*_: object) -> None:
        work.statements += 1

    def commit(*_: object) -> None:
        work.commits += 1

    def early(reason: CommitReason) -> None:
        work.early.append(reason)

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    extra_commit.connect(early)
    try:
        yield work
    finally:
        extra_commit.disconnect(early)
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


class Requests:
    """Each request's work, by name, checked against the unit-of-work rule as it is made."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.work: dict[str, Work] = {}

    def __call__(self, name: str, send, allowed: tuple[CommitReason, ...] = ()):  # type: ignore[no-untyped-def]
        with counting(self.app) as work:
            response = send()
        assert response.status_code < 500, (name, response.status_code)
        assert set(work.early) <= set(allowed), (name, work.early)
        assert work.commits <= 1 + len(work.early), (name, work)
        self.work[name] = work
        return response


@pytest.fixture
def requests(app: Flask) -> Requests:
    return Requests(app)


@pytest.fixture
def other_browser(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


def test_each_request_of_a_password_and_sms_login_commits_once_besides_its_named_early_commits(
        app, browser, sms_file, requests):
    person = make_citizen()
    rp = make_client(default_acr=SUBSTANTIAL)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    page = requests("authorize, answered by the login page", lambda: attempt.start(browser))
    sent = requests("password", lambda: submit(browser, page, "/login", document=person.document,
                                               password=person.password),
                    allowed=(CommitReason.BEFORE_ARGON2, CommitReason.BEFORE_SMS))
    otp_page = sent  # the password answers the SMS-code page
    to_consent = requests("SMS code", lambda: submit(browser, otp_page, "/login/otp",
                                                     otp=latest_code(sms_file)))
    consent_page = requests("consent page", lambda: browser.get(to_consent.headers["Location"]))
    back = requests("consent", lambda: submit(browser, consent_page, "/consent", decision="allow"))
    tokens = requests("token", lambda: browser.post("/token", headers=basic(rp.client_id, rp.secret), data={
        "grant_type": "authorization_code", "code": code_from(back), "redirect_uri": rp.redirect_uri,
        "code_verifier": attempt.verifier})).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    requests("userinfo", lambda: browser.get("/userinfo", headers=bearer))
    requests("introspection", lambda: browser.post("/introspect", headers=basic(rp.client_id, rp.secret),
                                                   data={"token": tokens["access_token"]}))
    refreshed = requests("refresh", lambda: browser.post(
        "/token", headers=basic(rp.client_id, rp.secret),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})).get_json()
    requests("revocation", lambda: browser.post("/revoke", headers=basic(rp.client_id, rp.secret),
                                                data={"token": refreshed["refresh_token"]}))
    for name in ("password", "SMS code", "consent", "token", "refresh", "revocation"):
        assert requests.work[name].commits >= 1, name  # each wrote something
    assert requests.work["userinfo"].commits == requests.work["introspection"].commits == 0


def test_a_full_login_with_password_and_sms_code_stays_within_its_statements(
        app, browser, other_browser, sms_file, requests):
    person = make_citizen()
    rp = make_client(default_acr=SUBSTANTIAL)
    consent(other_browser, log_in(other_browser, AuthorizationAttempt(rp.client_id, rp.redirect_uri)
                                  .start(other_browser), person.document, person.password, sms_file))
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    page = requests("authorize, answered by the login page", lambda: attempt.start(browser))
    sent = requests("password", lambda: submit(browser, page, "/login", document=person.document,
                                               password=person.password),
                    allowed=(CommitReason.BEFORE_ARGON2, CommitReason.BEFORE_SMS))
    otp_page = sent  # the password answers the SMS-code page
    back = requests("SMS code", lambda: submit(browser, otp_page, "/login/otp", otp=latest_code(sms_file)))
    tokens = requests("token", lambda: browser.post("/token", headers=basic(rp.client_id, rp.secret), data={
        "grant_type": "authorization_code", "code": code_from(back), "redirect_uri": rp.redirect_uri,
        "code_verifier": attempt.verifier})).get_json()
    requests("userinfo", lambda: browser.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}))
    assert sum(work.statements for work in requests.work.values()) <= FULL_LOGIN_STATEMENTS
    assert sum(work.commits for work in requests.work.values()) == 6


def test_each_request_of_a_clave_mobile_login_commits_once(app, browser, sms_file, requests):
    person = make_citizen()
    rp = make_client()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, rp)
    challenge_id = qr_challenge_id(page)
    phone = app.test_client()
    path = f"/api/mobile/v1/challenges/{challenge_id}"
    requests("app reads the challenge", lambda: signed_get(phone, device, path))
    requests("app decides", lambda: decide(phone, device, challenge_id, code=shown_code(page)))
    requests("page polls", lambda: browser.get(f"/mobile/status/{challenge_id}"))
    requests("page continues", lambda: continue_login(browser, page, challenge_id))
    assert db.session.get(MobileChallenge, challenge_id).status == ChallengeStatus.CONSUMED


def test_each_account_action_commits_once_and_a_new_password_commits_before_its_notice(
        app, browser, other_browser, sms_file, requests):
    person = make_citizen()
    log_in_to_account(other_browser, person.document, person.password, sms_file)
    log_in_to_account(browser, person.document, person.password, sms_file)
    account = requests("account page", lambda: browser.get("/account"))
    other = db.session.scalars(db.select(LoginSession).order_by(LoginSession.created_at)).first()
    requests("end another session", lambda: submit(browser, account, "/account/sessions/end", sid=other.id))
    code_page = fill(browser, "/password/change", document=person.document, password=person.password)
    submit(browser, code_page, "/password/change/otp", otp=latest_code(sms_file))
    form = browser.get("/password/change/new")
    requests("new password", lambda: submit(browser, form, "/password/change/new", new_password=NEW_PASSWORD,
                                            new_password_confirm=NEW_PASSWORD),
             allowed=(CommitReason.BEFORE_SMS,))
    assert requests.work["new password"].early == [CommitReason.BEFORE_SMS]
    home = browser.get("/")
    requests("log out", lambda: submit(browser, home, "/session/end"))


def test_a_refusal_commits_the_failure_it_counted_and_its_audit_event(app, browser, requests):
    person = make_citizen()
    page = browser.get("/login")
    refused = requests("wrong password", lambda: submit(browser, page, "/login", document=person.document,
                                                        password="Mala-Clave-1234!"),
                       allowed=(CommitReason.BEFORE_ARGON2,))
    assert refused.status_code == 401
    assert db.session.get(Citizen, person.citizen.id, populate_existing=True).password_failures == 1
    assert db.session.scalar(db.select(AuditEvent.tag).where(
        AuditEvent.citizen_id == person.citizen.id, AuditEvent.tag == EventTag.LOGIN_FAILED)) is not None


def _route(app: Flask, path: str, view) -> None:  # type: ignore[no-untyped-def]
    app.add_url_rule(path, endpoint=path, view_func=view)


def test_an_exception_rolls_back_everything_the_request_did(app, browser):
    person = make_citizen()

    def fails_after_writing():  # type: ignore[no-untyped-def]
        citizen = db.session.get(Citizen, person.citizen.id)
        citizen.phone = "+34699999999"
        record_event(EventTag.PHONE_CHANGED, citizen)
        db.session.flush()
        raise RuntimeError("after the writes")

    _route(app, "/test/fails", fails_after_writing)
    assert browser.get("/test/fails").status_code == 500
    assert db.session.get(Citizen, person.citizen.id, populate_existing=True).phone == "+34600111222"
    assert db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.PHONE_CHANGED)) is None


def test_a_request_whose_only_write_is_a_rate_limit_slot_commits_it(app, browser):
    def takes_a_slot():  # type: ignore[no-untyped-def]
        assert ratelimit.guard("login", ip="192.0.2.7").reserve()
        return "refused", 401

    _route(app, "/test/slot", takes_a_slot)
    assert browser.get("/test/slot").status_code == 401
    assert db.session.scalar(db.select(RateCounter.count)) == 1


def test_a_commit_that_fails_is_answered_as_an_error_and_keeps_nothing(app, browser):
    person = make_citizen()

    def conflicts_at_commit():  # type: ignore[no-untyped-def]
        db.session.get(Citizen, person.citizen.id).phone = "+34699999999"
        db.session.add_all([UsedJwtId(jti_hash="same", expires_at=clock.now()),
                            UsedJwtId(jti_hash="same", expires_at=clock.now())])
        return "answered"

    _route(app, "/test/conflicts", conflicts_at_commit)
    answer = browser.get("/test/conflicts")
    assert answer.status_code == 500 and "answered" not in answer.get_data(as_text=True)
    assert db.session.get(Citizen, person.citizen.id, populate_existing=True).phone == "+34600111222"


def test_a_read_only_request_commits_nothing(app, browser, requests):
    requests("home page", lambda: browser.get("/"))
    requests("discovery", lambda: browser.get("/.well-known/openid-configuration"))
    assert requests.work["home page"].commits == requests.work["discovery"].commits == 0


def test_a_sessions_last_use_is_written_after_the_request_in_a_transaction_of_its_own(
        app, browser, sms_file, requests):
    person = make_citizen()
    log_in_to_account(browser, person.document, person.password, sms_file)
    clock.advance(seconds=61)
    requests("a page a minute later", lambda: browser.get("/account"),
             allowed=(CommitReason.SESSION_TOUCH,))
    assert requests.work["a page a minute later"].early == [CommitReason.SESSION_TOUCH]
    seen = db.session.scalar(db.select(LoginSession.last_seen_at).filter_by(citizen_id=person.citizen.id))
    assert seen > clock.now() - timedelta(seconds=30)


def test_an_audit_event_is_written_by_the_commit_of_its_unit_of_work_and_dropped_by_its_rollback(app):
    person = make_citizen()
    count = db.select(db.func.count()).select_from(AuditEvent).where(AuditEvent.tag == EventTag.PHONE_CHANGED)
    record_event(EventTag.PHONE_CHANGED, person.citizen)
    assert db.session.scalar(count) == 0
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(count) == 0
    record_event(EventTag.PHONE_CHANGED, person.citizen)
    record_event(EventTag.PHONE_CHANGED, person.citizen)
    db.session.commit()
    assert db.session.scalar(count) == 2


def test_an_authorization_request_that_needs_a_login_is_answered_by_the_login_page_in_one_commit(
        app, browser, requests):
    rp = make_client()
    page = requests("authorize", lambda: AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser))
    assert page.status_code == 200 and asks_to_log_in(page)
    # The client (cached per process, read once here) and the stored request: no redirect.
    assert (requests.work["authorize"].statements, requests.work["authorize"].commits) == (2, 1)


def test_the_login_page_reads_its_pending_request_in_one_statement_and_commits_nothing(
        app, browser, requests):
    rp = make_client()
    shown = AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser)
    again = requests("login page", lambda: browser.get(page_address(shown)))  # a reload, a language chosen
    assert again.status_code == 200 and asks_to_log_in(again)
    assert (requests.work["login page"].statements, requests.work["login page"].commits) == (1, 0)

