"""The relying parties' signature API: who may ask, what is refused (clearly, auditing it,
changing nothing), the status of a request and its one download."""

from __future__ import annotations

import pytest

from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.firma.signature_requests import SignatureRequest
from idp.models import AuditEvent
from tests.factories import make_client
from tests.firma.rp import API, DIGEST, ask_digest, download, signature_client, status_of
from tests.oidc.test_code_flow import basic


def stored_requests() -> int:
    db.session.rollback()  # see what the server committed
    return db.session.scalar(db.select(db.func.count()).select_from(SignatureRequest))


def events(tag: EventTag) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(db.select(AuditEvent).filter_by(tag=tag.value)))


def test_a_digest_request_answers_its_id_sign_url_and_expiry(rp):
    client = signature_client()
    created = ask_digest(rp, client)
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {"request_id", "sign_url", "expires_at"}
    assert body["sign_url"] == f"http://localhost/signature/{body['request_id']}"
    assert created.headers["Cache-Control"] == "no-store"
    assert status_of(rp, client, body["request_id"]).get_json()["status"] == "pending"
    assert [e.detail["request_id"] for e in events(EventTag.SIGNATURE_REQUESTED)] == [body["request_id"]]


def test_a_client_not_authorised_for_signatures_is_refused_and_nothing_is_stored(rp):
    client = make_client()
    refused = ask_digest(rp, client)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "unauthorized_client"
    assert "not authorised" in refused.get_json()["error_description"]
    assert stored_requests() == 0
    assert [e.client_id for e in events(EventTag.SIGNATURE_REQUEST_REFUSED)] == [client.client_id]


def test_a_wrong_client_secret_is_invalid_client_as_at_the_token_endpoint(rp):
    client = signature_client()
    refused = rp.post(f"{API}/requests", json={"digest": DIGEST},
                      headers=basic(client.client_id, "not-the-secret"))
    assert refused.status_code == 401
    assert refused.get_json()["error"] == "invalid_client"
    assert stored_requests() == 0
    assert [e.client_id for e in events(EventTag.CLIENT_AUTH_FAILED)] == [client.client_id]


def test_no_credentials_at_all_are_invalid_client(rp):
    refused = rp.post(f"{API}/requests", json={"digest": DIGEST})
    assert refused.status_code in (400, 401)
    assert refused.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize(("fields", "problem"), [
    ({"digest": "abc"}, "digest must be a SHA-256"),
    ({"digest": "z" * 64}, "digest must be a SHA-256"),
    ({"digest": 42}, "digest must be a SHA-256"),
    ({"name": ""}, "name is required"),
    ({"name": "x" * 201}, "name must be printable"),
    ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri is not registered"),
    ({"state": ""}, "state is required"),
    ({"state": ["a"]}, "state must be printable"),
    ({"document": "12345678A"}, "control letter does not match"),
    ({"document": "nope"}, "not a DNI"),
    ({"reason": "line\nbreak"}, "reason must be printable"),
])
def test_a_bad_field_is_invalid_request_saying_which_and_stores_nothing(rp, fields, problem):
    refused = ask_digest(rp, signature_client(), **fields)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_request"
    assert problem in refused.get_json()["error_description"]
    assert stored_requests() == 0
    assert len(events(EventTag.SIGNATURE_REQUEST_REFUSED)) == 1


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b"{" * 100000 + b"}" * 100000],
                         ids=["a-list", "not-json", "nested-too-deep"])
def test_a_body_that_is_not_a_json_object_is_invalid_request(rp, body):
    client = signature_client()
    refused = rp.post(f"{API}/requests", data=body, content_type="application/json",
                      headers=basic(client.client_id, client.secret))
    assert refused.status_code in (400, 413)
    assert refused.get_json()["error"] in ("invalid_request", "document_too_large")
    assert stored_requests() == 0


def test_a_body_of_another_media_type_is_invalid_request(rp):
    client = signature_client()
    refused = rp.post(f"{API}/requests", data="digest=x", content_type="text/plain",
                      headers=basic(client.client_id, client.secret))
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_request"


def test_an_unknown_request_is_not_found(rp):
    client = signature_client()
    for answer in (status_of(rp, client, "no-such-request"), download(rp, client, "no-such-request")):
        assert answer.status_code == 404
        assert answer.get_json()["error"] == "not_found"


def test_another_clients_request_is_as_unknown_as_one_that_never_was(rp):
    owner, other = signature_client(), signature_client()
    request_id = ask_digest(rp, owner).get_json()["request_id"]
    assert status_of(rp, other, request_id).status_code == 404
    assert download(rp, other, request_id).status_code == 404


def test_a_pending_request_has_nothing_to_download(rp):
    client = signature_client()
    request_id = ask_digest(rp, client).get_json()["request_id"]
    refused = download(rp, client, request_id)
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "not_signed"
    assert [e.detail["status"] for e in events(EventTag.SIGNATURE_DOWNLOAD_REFUSED)] == ["pending"]


def test_a_request_past_its_lifetime_is_expired(rp, app):
    client = signature_client()
    request_id = ask_digest(rp, client).get_json()["request_id"]
    clock.advance(seconds=app.config["IDP_FIRMA_REQUEST_TTL"])
    assert status_of(rp, client, request_id).get_json()["status"] == "expired"
    assert download(rp, client, request_id).get_json()["error"] == "not_signed"


def test_the_openapi_document_describes_every_route(rp, app):
    document = rp.get(f"{API}/openapi.json")
    assert document.status_code == 200
    paths = document.get_json()["paths"]
    assert set(paths) == {"/requests", "/requests/{request_id}", "/requests/{request_id}/document"}


def test_a_request_is_refused_past_the_clients_limit(rp, app):
    client = signature_client()
    count = int(app.config["IDP_RATE_LIMITS"].split("signature.client=")[1].split("/")[0])
    for _ in range(count):
        assert ask_digest(rp, client).status_code == 201
    refused = ask_digest(rp, client)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "rate_limited"
    assert stored_requests() == count
