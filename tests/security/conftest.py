"""Helpers shared by the adversarial tests: a full login, tokens, a second browser."""

from __future__ import annotations

import pytest

from tests.oidc.test_code_flow import redeem
from tests.support.browser import AuthorizationAttempt, asks_to_log_in, code_from, consent, log_in


def authorize(browser, sms_file, rp, person, **options):  # type: ignore[no-untyped-def]
    """Run an authorization request through login and consent as needed; (attempt, code)."""
    scope = options.pop("scope", "openid profile")
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope=scope, extra=options)
    response = attempt.start(browser)
    if asks_to_log_in(response):
        response = log_in(browser, response, person.document, person.password, sms_file)
    if "/consent" in response.headers.get("Location", ""):
        response = consent(browser, response)
    return attempt, code_from(response)


def tokens_for(browser, sms_file, rp, person, **options) -> dict:  # type: ignore[no-untyped-def]
    attempt, code = authorize(browser, sms_file, rp, person, **options)
    response = redeem(browser, rp, attempt, code)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def other_browser(app):  # type: ignore[no-untyped-def]
    """A second, unrelated browser (the attacker's, or another citizen's)."""
    return app.test_client()
