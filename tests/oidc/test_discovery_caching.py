"""Discovery and JWKS are served from bodies built once, with validators clients can cache on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from idp.oidc.keys import rotate_keys


def test_jwks_carries_an_etag_and_a_public_cache_lifetime(app, browser):
    response = browser.get("/jwks.json")
    assert response.status_code == 200
    assert response.headers["ETag"]
    assert response.headers["Cache-Control"] == "public, max-age=300"


def test_jwks_answers_not_modified_to_a_client_holding_the_current_etag(app, browser):
    etag = browser.get("/jwks.json").headers["ETag"]
    again = browser.get("/jwks.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""


def test_jwks_body_and_etag_change_when_the_keys_rotate(app, browser):
    before = browser.get("/jwks.json")
    rotate_keys(Path(app.config["IDP_KEYS_DIR"]), timedelta(seconds=app.config["IDP_ID_TOKEN_TTL"]))
    after = browser.get("/jwks.json", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert len(after.get_json()["keys"]) == 2 * len(before.get_json()["keys"])


def test_discovery_answers_not_modified_to_a_client_holding_its_etag(app, browser):
    first = browser.get("/.well-known/openid-configuration")
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    again = browser.get("/.well-known/openid-configuration",
                        headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
