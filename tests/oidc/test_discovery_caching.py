"""Discovery and JWKS are served from bodies built once, with validators clients can cache on,
in front of Flask: the same bytes and headers as the routes, without their hooks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from werkzeug.test import Client, TestResponse

from idp.extensions import db
from idp.oidc.endpoints.discovery import PublishedDocuments
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


PUBLISHED = ["/.well-known/openid-configuration", "/jwks.json"]


def _through_flask(app):  # type: ignore[no-untyped-def]
    """A client of the Flask routes themselves, behind the layer that answers in front."""
    front = app.wsgi_app
    assert isinstance(front, PublishedDocuments)
    return Client(front.inner, TestResponse)


@pytest.mark.parametrize("path", PUBLISHED)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_published_documents_answer_the_bytes_and_headers_of_their_flask_routes(app, browser, path, method):
    fast = browser.open(path, method=method, headers={"X-Request-Id": "req-12345678"})
    routed = _through_flask(app).open(path, method=method, headers={"X-Request-Id": "req-12345678"})
    assert fast.status_code == routed.status_code == 200
    assert fast.get_data() == routed.get_data()
    assert sorted(fast.headers.items()) == sorted(routed.headers.items())
    assert fast.headers["X-Content-Type-Options"] == "nosniff"
    assert fast.headers["Access-Control-Allow-Origin"] == "*"
    assert fast.headers["X-Request-Id"] == "req-12345678"


@pytest.mark.parametrize("path", PUBLISHED)
def test_published_documents_answer_not_modified_as_their_flask_routes_do(app, browser, path):
    etag = browser.get(path).headers["ETag"]
    held = {"If-None-Match": f'"other", {etag}', "X-Request-Id": "req-12345678"}
    fast, routed = browser.get(path, headers=held), _through_flask(app).get(path, headers=held)
    assert fast.status_code == routed.status_code == 304
    assert fast.get_data() == routed.get_data() == b""
    assert sorted(fast.headers.items()) == sorted(routed.headers.items())


@pytest.mark.parametrize("path", PUBLISHED)
def test_published_documents_run_no_request_hook_and_no_sql(app, browser, path):
    hooks: list[str] = []
    app.before_request_funcs.setdefault(None, []).append(lambda: hooks.append("before"))
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listen = event.listens_for(engine, "before_cursor_execute")
    listen(lambda *args: statements.append(args[2]))
    answer = browser.get(path)
    assert answer.status_code == 200 and answer.headers["X-Request-Id"]
    assert hooks == [] and statements == []
    assert "Set-Cookie" not in answer.headers and "Vary" not in answer.headers


@pytest.mark.parametrize("path", PUBLISHED)
def test_other_methods_on_published_documents_still_reach_flask(browser, path):
    assert browser.post(path).status_code == 405


@pytest.mark.parametrize("path", PUBLISHED)
def test_a_malformed_forwarded_host_on_published_documents_is_refused_behind_a_proxy(
        template_dir, tmp_path, path):
    from tests.conftest import build_app, prepare_files

    prepare_files(template_dir, tmp_path)
    behind_proxy = build_app(tmp_path, IDP_PROXY_COUNT=1).test_client()
    refused = behind_proxy.get(path, headers={"X-Forwarded-Host": "a" * 64 + ".example"})
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_request"
    assert behind_proxy.get(path, headers={"X-Forwarded-Host": "idp.example.org"}).status_code == 200


def test_the_jwks_answered_in_front_follows_a_rotation_at_once(app, browser):
    before = browser.get("/jwks.json")
    rotate_keys(Path(app.config["IDP_KEYS_DIR"]), timedelta(seconds=app.config["IDP_ID_TOKEN_TTL"]))
    after = browser.get("/jwks.json")
    assert after.get_data() == _through_flask(app).get("/jwks.json").get_data() != before.get_data()
    assert after.headers["ETag"] != before.headers["ETag"]
