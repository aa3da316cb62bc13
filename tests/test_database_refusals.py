"""Values that PostgreSQL refuses and SQLite stores (a NUL byte in a string) are the client's
error on every database: an answer below 500, and the next request is served as usual."""

from __future__ import annotations

import pytest

from tests.factories import make_client
from tests.firma.rp import API, signature_client
from tests.oidc.test_code_flow import basic
from tests.support.browser import AuthorizationAttempt, asks_to_log_in

NUL = "\x00"


@pytest.mark.parametrize(("method", "path", "fields"), [
    ("GET", "/authorize", {"client_id": NUL, "response_type": "code"}),
    ("GET", "/logout", {"client_id": NUL}),
    ("POST", "/token", {"grant_type": "authorization_code", "code": NUL, "client_id": NUL}),
    ("POST", "/introspect", {"token": "x", "client_id": NUL}),
])
def test_a_nul_byte_looked_up_in_the_database_is_refused_without_a_server_error(
        browser, method, path, fields):
    if method == "GET":
        response = browser.get(path, query_string=fields)
    else:
        response = browser.post(path, data=fields)
    assert response.status_code < 500
    rp = make_client()
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    assert asks_to_log_in(attempt.start(browser))



@pytest.mark.parametrize("path", [f"{API}/requests/oz{NUL},", f"{API}/requests/oz{NUL},/document"])
def test_a_nul_byte_in_an_api_path_is_refused_in_json(browser, path):
    client = signature_client()
    response = browser.get(path, headers=basic(client.client_id, client.secret))
    assert 400 <= response.status_code < 500 and response.is_json
