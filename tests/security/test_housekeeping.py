"""Rows that anonymous visitors create (pending requests, QR challenges, rate counters,
answered passkey challenges) do not pile up forever: ``idp purge`` deletes them once
expired, and only then."""

from __future__ import annotations

import json

from click.testing import CliRunner

from idp.cli import main
from idp.clock import clock
from idp.extensions import db
from idp.mobile.models import MobileChallenge
from idp.oidc.models import AuthorizationRequest
from idp.passkeys.models import UsedPasskeyChallenge
from idp.ratelimit import RateCounter
from tests.factories import make_citizen, make_client, new_dni
from tests.mobile.support import loaded
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import login_options
from tests.support.browser import AuthorizationAttempt, code_from, consent, log_in, submit


def _count(model) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def _purge(app, monkeypatch) -> dict[str, int]:  # type: ignore[no-untyped-def]
    for name in ("IDP_DATABASE_URL", "IDP_KEYS_DIR", "IDP_SECRET_KEY", "IDP_SMS_BACKEND",
                 "IDP_ISSUER"):
        monkeypatch.setenv(name, str(app.config[name]))
    result = CliRunner().invoke(main, ["purge", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_anonymous_requests_and_challenges_are_purged_once_expired(app, browser, monkeypatch):
    rp = make_client()
    for _ in range(3):
        page = loaded(browser, AuthorizationAttempt(rp.client_id, rp.redirect_uri).start(browser))
    submit(browser, page, "/login", document=new_dni(), password="Mala-Clave-1")
    assert _count(AuthorizationRequest) == 3 and _count(MobileChallenge) == 3
    assert _count(RateCounter) > 0

    assert _purge(app, monkeypatch)["authorization_requests"] == 0
    assert _count(AuthorizationRequest) == 3

    clock.advance(seconds=app.config["IDP_INTERACTION_TTL"] + 3600)
    removed = _purge(app, monkeypatch)

    assert removed["authorization_requests"] == 3 and removed["mobile_challenges"] == 3
    assert _count(AuthorizationRequest) == 0 and _count(MobileChallenge) == 0
    assert _count(RateCounter) == 0


def test_a_purge_leaves_a_login_in_progress_able_to_finish(app, browser, sms_file, monkeypatch):
    person = make_citizen()
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    started = attempt.start(browser)
    _purge(app, monkeypatch)
    assert code_from(consent(browser, log_in(browser, started, person.document, person.password,
                                             sms_file)))


def test_answered_passkey_challenges_are_purged_once_expired_and_stay_refused(
        app, browser, monkeypatch):
    """Only an answered challenge is written; once its lifetime is over it goes, and the
    answer is still refused (the browser's draft has expired with it)."""
    page, asked = login_options(browser)
    answer = SoftAuthenticator(user_handle=b"x").get(asked)
    assert submit(browser, page, "/login/passkey", credential=answer).status_code == 400
    assert _count(UsedPasskeyChallenge) == 1 and _purge(app, monkeypatch)["used_passkey_challenges"] == 0

    clock.advance(seconds=app.config["IDP_PASSKEY_CHALLENGE_TTL"] + 1)

    assert _purge(app, monkeypatch)["used_passkey_challenges"] == 1
    assert _count(UsedPasskeyChallenge) == 0
    assert submit(browser, page, "/login/passkey", credential=answer).status_code == 400
