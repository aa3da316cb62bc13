"""Authorization requests an attacker can craft: malformed ``claims`` and level downgrades."""

from __future__ import annotations

from tests.factories import make_client
from tests.support.browser import AuthorizationAttempt, query


def test_deeply_nested_claims_parameter_is_invalid_request_not_a_crash(app, browser):
    rp = make_client()
    nested = "[" * 2000 + "]" * 2000
    response = AuthorizationAttempt(rp.client_id, rp.redirect_uri,
                                    extra={"claims": nested}).start(browser)
    assert response.status_code == 302 and query(response)["error"] == "invalid_request"
