"""HTTP Basic client authentication: whatever the header holds, a client that is not
authenticated gets invalid_client, never a server error."""

from __future__ import annotations

import base64

import pytest

from idp.oidc.client_auth import basic_credentials
from tests.factories import make_client


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize("authorization", [
    "Basic \x0b", "Basic \x0c", "Basic \xa0", "Basic \x1f",  # white space that is not a space
    _basic(b"\xff\xfe:\xc3("), _basic(b"client:\xff"),         # credentials that are not UTF-8
    "Basic ñ", "Basic %%%", "Basic Og=", _basic(b"no-colon"), _basic(b":"),
])
@pytest.mark.parametrize("path", ["/introspect", "/revoke", "/token"])
def test_a_malformed_basic_header_is_refused_as_invalid_client(app, browser, authorization, path):
    make_client()
    response = browser.post(path, headers={"Authorization": authorization},
                            data={"token": "x", "grant_type": "authorization_code", "code": "x"})
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_basic_credentials_are_form_decoded_and_split_at_the_first_colon():
    assert basic_credentials(_basic(b"rp%3A1:s%25cr:et")) == ("rp:1", "s%cr:et")
    assert basic_credentials("basic " + base64.b64encode(b"a:b").decode()) == ("a", "b")
    assert basic_credentials(_basic(b"only-an-id")) == ("only-an-id", None)
    assert basic_credentials("Bearer " + base64.b64encode(b"a:b").decode()) == (None, None)
    assert basic_credentials(None) == (None, None)


def test_a_genuine_basic_header_still_authenticates_the_client(app, browser):
    rp = make_client()
    response = browser.post("/introspect", data={"token": "unknown"},
                            headers={"Authorization": _basic(f"{rp.client_id}:{rp.secret}".encode())})
    assert response.status_code == 200 and response.get_json() == {"active": False}
