"""Nothing a relying party sends to the signature API makes it answer 500, and every answer
is JSON: any JSON body, any multipart field, any path, with or without credentials."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.extensions import db
from idp.firma.signature_requests import SignatureRequest
from tests.firma.rp import API, signature_client
from tests.oidc.test_code_flow import basic
from tests.test_no_server_errors import json_values

fuzz = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
FIELDS = ["digest", "name", "redirect_uri", "state", "document", "reason", "file"]


def test_any_json_body_is_answered_in_json_without_a_500(app, browser):
    client = signature_client()

    @fuzz
    @given(st.one_of(json_values, st.fixed_dictionaries({}, optional={f: json_values for f in FIELDS})))
    def check(body):  # type: ignore[no-untyped-def]
        answer = browser.post(f"{API}/requests", json=body, headers=basic(client.client_id, client.secret))
        assert answer.status_code < 500 and answer.is_json, (body, answer.get_data(as_text=True)[:300])
        if answer.status_code != 201:
            db.session.rollback()

    check()


def test_any_multipart_fields_are_answered_in_json_without_a_500(app, browser):
    client = signature_client()

    @fuzz
    @given(st.dictionaries(st.sampled_from(FIELDS), text, max_size=6), st.binary(max_size=2000))
    def check(fields, content):  # type: ignore[no-untyped-def]
        data = {**fields, "file": (io.BytesIO(content), fields.get("name", "x.pdf"))}
        answer = browser.post(f"{API}/requests", data=data, content_type="multipart/form-data",
                              headers=basic(client.client_id, client.secret))
        assert answer.status_code < 500 and answer.is_json, (fields, answer.get_data(as_text=True)[:300])

    check()
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(SignatureRequest)) == 0


def test_any_request_id_and_credentials_are_answered_in_json_without_a_500(app, browser):
    client = signature_client()

    @fuzz
    @given(text, st.one_of(st.none(), st.text(st.characters(min_codepoint=32, max_codepoint=126))))
    def check(request_id, authorization):  # type: ignore[no-untyped-def]
        headers = ({"Authorization": authorization} if authorization is not None
                   else basic(client.client_id, client.secret))
        for path in (f"{API}/requests/{request_id}", f"{API}/requests/{request_id}/document"):
            answer = browser.get(path.replace("?", "%3F").replace("#", "%23"), headers=headers)
            # Werkzeug's redirect of a doubled slash is the one answer that is not JSON.
            assert answer.status_code < 500 and (answer.is_json or answer.status_code == 308), (
                path, answer.get_data(as_text=True)[:300])

    check()


def test_an_unmatched_path_of_either_api_is_answered_in_json(browser):
    for path in ("/api/signature/v1/requests/", "/api/signature/v1/nothing", "/api/mobile/v1/nothing"):
        answer = browser.get(path)
        assert answer.status_code == 404 and answer.get_json()["error"] == "not_found", path
