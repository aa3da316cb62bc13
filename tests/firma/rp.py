"""Relying parties of Cl@ve Firma, as the tests drive them: a client authorised for the
signature API, its requests, and the citizen's way from ``sign_url`` back to the RP."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import ClientAndSecret, make_client
from tests.oidc.test_code_flow import basic

API = "/api/signature/v1"
DIGEST = hashlib.sha256(b"the contract the body keeps").hexdigest()


def signature_client(**options: object) -> ClientAndSecret:
    return make_client(signature=True, **options)


def ask_digest(rp: FlaskClient, client: ClientAndSecret, *, digest: str = DIGEST,
               name: str = "contract.pdf", state: str = "st-1", **fields: object) -> TestResponse:
    body = {"digest": digest, "name": name, "redirect_uri": client.redirect_uri, "state": state, **fields}
    return rp.post(f"{API}/requests", json=body, headers=basic(client.client_id, client.secret))


def ask_pdf(rp: FlaskClient, client: ClientAndSecret, pdf: bytes, *, filename: str = "contract.pdf",
            state: str = "st-1", **fields: str) -> TestResponse:
    data = {"file": (io.BytesIO(pdf), filename), "redirect_uri": client.redirect_uri,
            "state": state, **fields}
    response = rp.post(f"{API}/requests", data=data, content_type="multipart/form-data",
                       headers=basic(client.client_id, client.secret))
    # Werkzeug's test client spools a large body to a temporary file it leaves open.
    response.request.environ["wsgi.input"].close()
    return response


def status_of(rp: FlaskClient, client: ClientAndSecret, request_id: str) -> TestResponse:
    return rp.get(f"{API}/requests/{request_id}", headers=basic(client.client_id, client.secret))


def download(rp: FlaskClient, client: ClientAndSecret, request_id: str) -> TestResponse:
    return rp.get(f"{API}/requests/{request_id}/document", headers=basic(client.client_id, client.secret))


def sign_path(created: TestResponse) -> str:
    assert created.status_code == 201, created.get_json()
    return urlsplit(created.get_json()["sign_url"]).path


def returned(response: TestResponse) -> tuple[str, dict[str, str]]:
    """Where the browser went back to: the RP's URI without query, and the query."""
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    return f"{location.scheme}://{location.netloc}{location.path}", query


def sms_file_of(browser: FlaskClient) -> Path:
    return Path(browser.application.config["IDP_SMS_BACKEND"].removeprefix("file:"))
