"""Logging in with a passkey (issue 17): no DNI/NIE typed, substantial level, and every
answer that is not a genuine, fresh, user-verified signature of a registered passkey for
this site is refused with a clear message, leaving everything as it was."""

from __future__ import annotations

from idp.assurance import ACR_LOW, ACR_SUBSTANTIAL
from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent, LoginSession
from idp.passkeys.models import Passkey
from idp.sms import read_sms_file
from tests.factories import make_client
from tests.flows.support import sql_work, start_of_a_window
from tests.oidc.test_code_flow import id_token_claims, redeem
from tests.passkeys.authenticator import BE, BS, UP, UV, SoftAuthenticator
from tests.passkeys.support import citizen_with_passkey, log_in_with, login_options, state_of
from tests.support.browser import AuthorizationAttempt, code_from, consent, log_in, shows_message, submit


def events(tag: EventTag) -> list[AuditEvent]:
    return list(db.session.scalars(db.select(AuditEvent).filter_by(tag=tag)))


def test_a_passkey_alone_logs_in_to_a_relying_party_at_substantial_level(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    rp = make_client(default_acr=ACR_SUBSTANTIAL)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    login_page = attempt.start(browser)

    answer = log_in_with(browser, key, login_page)

    tokens = redeem(browser, rp, attempt, code_from(consent(browser, answer))).get_json()
    claims = id_token_claims(browser, tokens["id_token"])
    assert claims["acr"] == ACR_SUBSTANTIAL and claims["amr"] == ["mfa", "pop", "user"]
    assert browser.get("/account").status_code == 200  # substantial: the account page opens
    db.session.expire_all()
    passkey = db.session.scalar(db.select(Passkey).filter_by(citizen_id=person.citizen.id))
    assert passkey.sign_count == key.sign_count == 1 and passkey.last_used_at is not None
    assert events(EventTag.LOGIN_SUCCEEDED)[-1].detail["amr"] == ["mfa", "pop", "user"]


def test_the_login_page_offers_passkeys_beside_the_two_cl_ave_ways(app, browser):
    page = browser.get("/login").get_data(as_text=True)
    assert 'data-tab="passkey"' in page and 'action="/login/passkey"' in page
    assert 'autocomplete="username webauthn"' in page  # the browser may offer passkeys there
    assert 'src="/static/passkeys.js"' in page and "<script>" not in page


def test_a_synced_passkey_without_a_counter_logs_in_again_and_its_backup_state_is_kept(
        app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file, SoftAuthenticator(counts=False))

    first = log_in_with(browser, key, flags=UP | UV | BE | BS)
    second = log_in_with(app.test_client(), key, flags=UP | UV | BE | BS)

    assert first.headers["Location"] == second.headers["Location"] == "/account"
    passkey = db.session.scalar(db.select(Passkey).filter_by(citizen_id=person.citizen.id))
    db.session.refresh(passkey)
    assert passkey.sign_count == 0 and passkey.backed_up


def test_an_assertion_for_another_rp_id_is_refused_and_changes_nothing(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    before = state_of(person)

    answer = log_in_with(browser, key, rp_id="clave.example.net")

    assert answer.status_code == 400 and shows_message(answer, "passkey_failed")
    assert state_of(person) == before
    assert "RP ID" in events(EventTag.PASSKEY_LOGIN_REFUSED)[-1].detail["reason"]


def test_an_assertion_made_on_another_origin_is_refused_and_changes_nothing(app, browser, sms_file):
    """A phishing page relaying the challenge: the browser writes its own origin in."""
    person, key = citizen_with_passkey(app, sms_file)
    before = state_of(person)

    answer = log_in_with(browser, key, origin="https://clave-gob.example")

    assert answer.status_code == 400 and shows_message(answer, "passkey_failed")
    assert state_of(person) == before
    assert "origin" in events(EventTag.PASSKEY_LOGIN_REFUSED)[-1].detail["reason"]


def test_a_replayed_assertion_is_refused_even_with_the_cookie_it_was_made_with(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    page, asked = login_options(browser)
    assertion = key.get(asked)
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    cookie_then = browser.get_cookie(cookie_name).value
    assert submit(browser, page, "/login/passkey", credential=assertion).status_code == 302
    after_first = state_of(person)

    again = submit(browser, browser.get("/login"), "/login/passkey", credential=assertion)
    thief = app.test_client()
    thief.set_cookie(cookie_name, cookie_then)
    replayed = submit(thief, page, "/login/passkey", credential=assertion)

    for answer in (again, replayed):
        assert answer.status_code == 400 and shows_message(answer, "passkey_expired")
    assert state_of(person) == after_first


def test_a_challenge_expires_after_its_lifetime(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    page, asked = login_options(browser)
    clock.advance(seconds=app.config["IDP_PASSKEY_CHALLENGE_TTL"] + 1)

    answer = submit(browser, page, "/login/passkey", credential=key.get(asked))

    assert answer.status_code == 400 and shows_message(answer, "passkey_expired")
    assert state_of(person)[1] == 1  # only the session that added the passkey


def test_a_challenge_of_another_browser_is_refused(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    _, asked_elsewhere = login_options(app.test_client())
    page, _ = login_options(browser)

    answer = submit(browser, page, "/login/passkey", credential=key.get(asked_elsewhere))

    assert answer.status_code == 400 and shows_message(answer, "passkey_expired")


def test_another_citizens_credential_is_refused_whoever_signs(app, browser, sms_file):
    """Lucía's key signing for Pedro's credential id, or naming Lucía's account with Pedro's
    credential: neither logs anyone in."""
    lucia, lucia_key = citizen_with_passkey(app, sms_file)
    pedro, pedro_key = citizen_with_passkey(app, sms_file, phone="+34600333444")
    before = state_of(lucia), state_of(pedro)

    signed_by_another = log_in_with(browser, lucia_key, credential_id=pedro_key.credential_id)
    handle_of_another = log_in_with(browser, pedro_key, user_handle=lucia_key.user_handle)

    for answer in (signed_by_another, handle_of_another):
        assert answer.status_code == 400 and shows_message(answer, "passkey_failed")
    assert (state_of(lucia), state_of(pedro)) == before


def test_a_counter_that_goes_backwards_is_refused_and_audited(app, browser, sms_file):
    """A cloned authenticator: the copy signs with a count the original already used."""
    person, key = citizen_with_passkey(app, sms_file)
    assert log_in_with(app.test_client(), key, count=7).status_code == 302
    before = state_of(person)

    answer = log_in_with(browser, key, count=5)

    assert answer.status_code == 400 and shows_message(answer, "passkey_counter")
    assert state_of(person) == before
    [event] = events(EventTag.PASSKEY_COUNTER_WENT_BACK)
    assert event.citizen_id == person.citizen.id and event.detail["reason"] == "sign count 5 after 7"


def test_an_assertion_without_user_verification_is_refused(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    before = state_of(person)

    answer = log_in_with(browser, key, flags=UP)

    assert answer.status_code == 400 and shows_message(answer, "passkey_not_verified")
    assert state_of(person) == before


def test_a_passkey_nobody_registered_is_refused(app, browser):
    answer = log_in_with(browser, SoftAuthenticator(user_handle=b"x" * 32))

    assert answer.status_code == 400 and shows_message(answer, "passkey_unknown")
    assert db.session.scalar(db.select(db.func.count()).select_from(LoginSession)) == 0


def test_a_blocked_citizens_passkey_is_refused(app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    person.citizen.password_blocked = True
    db.session.commit()
    before = state_of(person)

    answer = log_in_with(browser, key)

    assert answer.status_code == 400 and shows_message(answer, "passkey_blocked")
    assert state_of(person) == before


def test_a_malformed_answer_is_refused_with_a_page_not_an_error(app, browser):
    page, _ = login_options(browser)
    empty_answer = ('{"id": "AA", "rawId": "AA", "type": "public-key", "response": '
                    '{"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"}}')
    for credential in ("", "{", '{"id": "x"}', empty_answer):
        answer = submit(browser, page, "/login/passkey", credential=credential)
        assert answer.status_code == 400 and shows_message(answer, "passkey_failed")


def test_refused_passkey_logins_are_limited_per_passkey_and_per_address(app, sms_file):
    """``passkey.credential=10/300`` and ``passkey.ip=30/300`` in the default limits."""
    _, key = citizen_with_passkey(app, sms_file)
    start_of_a_window(300)
    browser = app.test_client()
    for _ in range(10):
        assert log_in_with(browser, key, flags=UP).status_code == 400
    assert log_in_with(browser, key).status_code == 429  # even a good answer, unchecked
    assert log_in_with(app.test_client(), key).status_code == 429  # the passkey, from any browser

    for _ in range(30 - 10):  # a refusal at the limit takes no slot
        assert log_in_with(browser, SoftAuthenticator(user_handle=b"x")).status_code == 400
    assert log_in_with(browser, SoftAuthenticator(user_handle=b"x")).status_code == 429
    page, _ = login_options(browser)
    assert submit(browser, page, "/login/passkey", credential="{").status_code == 429  # unread


def test_malformed_answers_count_against_the_address(app, browser):
    start_of_a_window(300)
    page, _ = login_options(browser)
    for _ in range(30):
        assert submit(browser, page, "/login/passkey", credential="{").status_code == 400

    assert submit(browser, page, "/login/passkey", credential="{").status_code == 429
    assert len(events(EventTag.PASSKEY_LOGIN_REFUSED)) == 30


def test_a_login_page_and_its_passkey_options_write_nothing(app, browser):
    """Conditional mediation asks for options on every login page a passkey-capable browser
    shows: the challenge is drafted in the session, so no row is written for it."""
    with sql_work(app) as work:
        login_options(browser)

    assert work.writes_to("passkey") == [] and work.commits == 0


def test_a_password_session_steps_up_to_substantial_with_a_passkey_instead_of_an_sms_code(
        app, browser, sms_file):
    person, key = citizen_with_passkey(app, sms_file)
    low, high = make_client(default_acr=ACR_LOW), make_client(default_acr=ACR_SUBSTANTIAL)
    low_attempt = AuthorizationAttempt(low.client_id, low.redirect_uri)
    consent(browser, log_in(browser, low_attempt.start(browser), person.document, person.password))
    sent = len(read_sms_file(sms_file))
    attempt = AuthorizationAttempt(high.client_id, high.redirect_uri)
    step_up = browser.get(attempt.start(browser).headers["Location"])
    assert 'action="/login/passkey"' in step_up.get_data(as_text=True)

    answer = log_in_with(browser, key, step_up)

    tokens = redeem(browser, high, attempt, code_from(consent(browser, answer))).get_json()
    claims = id_token_claims(browser, tokens["id_token"])
    assert claims["acr"] == ACR_SUBSTANTIAL and claims["amr"] == ["mfa", "pop", "user"]
    assert len(read_sms_file(sms_file)) == sent  # no SMS code was needed
    assert state_of(person)[1] == 2  # the same session went on (and the one that added the key)
