"""``/metrics``: Prometheus counts of what the IdP does, served only to whoever holds the
token, by route (never by path); and ``/readyz``, which asks the database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from idp import create_app
from idp.sms import SmsDeliveryError
from tests.conftest import build_app, prepare_files
from tests.factories import make_citizen, make_client, new_dni
from tests.flows.support import refresh
from tests.mobile.support import continue_login, decide, enroll, login_page, qr_challenge_id, shown_code
from tests.oidc.test_userinfo_front import bearer_of
from tests.security.conftest import tokens_for
from tests.support.browser import AuthorizationAttempt, consent, log_in, submit

TOKEN = "metrics-scrape-token-for-tests"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def metered(template_dir, tmp_path) -> Iterator[Flask]:  # type: ignore[no-untyped-def]
    """The ``app`` fixture's server with a scrape token configured."""
    prepare_files(template_dir, tmp_path)
    server, twin = build_app(tmp_path, IDP_METRICS_TOKEN=TOKEN), build_app(tmp_path)
    ctx = twin.test_request_context()
    ctx.push()
    yield server
    ctx.pop()


@pytest.fixture
def client(metered: Flask) -> FlaskClient:
    return metered.test_client()


@pytest.fixture
def sms_path(metered: Flask):  # type: ignore[no-untyped-def]
    from pathlib import Path

    return Path(metered.config["IDP_SMS_BACKEND"].removeprefix("file:"))


def scrape(browser: FlaskClient) -> dict[tuple[str, frozenset], float]:
    """Every sample of the exposition: (name, labels) → value."""
    answer = browser.get("/metrics", headers=SCRAPER)
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.get_data(as_text=True))
            for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Moves:
    """How much chosen samples moved between two scrapes."""

    def __init__(self, browser: FlaskClient) -> None:
        self.browser, self.before = browser, scrape(browser)

    def __call__(self, name: str, **labels: str) -> float:
        return value(scrape(self.browser), name, **labels) - value(self.before, name, **labels)


def test_metrics_are_not_served_unless_configured(app, browser):
    assert browser.get("/metrics").status_code == 404
    assert browser.get("/metrics", headers=SCRAPER).status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x",
                                           "Bearer é"])
def test_metrics_are_refused_without_the_token(client, authorization):
    answer = client.get("/metrics", headers={"Authorization": authorization} if authorization else {})
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"idp_" not in answer.data


def test_a_password_login_and_a_refused_one_are_counted(client, sms_path):
    person = make_citizen()
    moved = Moves(client)
    wrong = submit(client, client.get("/login"), "/login", document=person.document, password="nope")
    assert wrong.status_code == 401
    log_in(client, client.get("/login"), person.document, person.password, sms_path)
    assert moved("idp_logins_total", method="password", outcome="failed") == 1
    assert moved("idp_logins_total", method="password", outcome="succeeded") == 1
    assert moved("idp_sms_total", kind="code", outcome="sent") == 1
    assert moved("idp_argon2id_seconds_count", operation="verify") == 2


def test_an_sms_the_gateway_fails_to_take_is_counted(metered, client, monkeypatch):
    class Down:
        def send(self, to: str, text: str) -> None:
            raise SmsDeliveryError("gateway down")

    monkeypatch.setitem(metered.extensions, "idp.sms", Down())
    person = make_citizen()
    moved = Moves(client)
    submit(client, client.get("/login"), "/login", document=person.document, password=person.password)
    assert moved("idp_sms_total", kind="code", outcome="failed") == 1
    assert moved("idp_sms_total", kind="code", outcome="sent") == 0


def test_tokens_issued_and_refused_are_counted_by_grant_type(client, sms_path):
    rp, person = make_client(), make_citizen()
    moved = Moves(client)
    issued = tokens_for(client, sms_path, rp, person)
    assert refresh(client, rp, issued["refresh_token"]).status_code == 200
    assert refresh(client, rp, issued["refresh_token"]).status_code == 400  # used already
    assert client.post("/token", data={"grant_type": "password"}).status_code in (400, 401)
    assert moved("idp_tokens_total", grant_type="authorization_code", outcome="issued") == 1
    assert moved("idp_tokens_total", grant_type="refresh_token", outcome="issued") == 1
    assert moved("idp_tokens_total", grant_type="refresh_token", outcome="refused") == 1
    assert moved("idp_tokens_total", grant_type="other", outcome="refused") == 1


def test_a_rate_limit_refusal_is_counted_under_the_limit_name(metered, client):
    person = make_citizen()
    limit = int(metered.config["IDP_RATE_LIMITS"].split("login.document=")[1].split("/")[0])
    moved = Moves(client)
    page = client.get("/login")
    answers = [submit(client, page, "/login", document=person.document, password="wrong").status_code
               for _ in range(limit + 1)]
    assert answers == [401] * limit + [429]
    assert moved("idp_rate_limit_refusals_total", limit="login.document") == 1
    assert moved("idp_rate_limit_refusals_total", limit="login.ip") == 0
    assert moved("idp_logins_total", method="password", outcome="refused") == 1
    assert moved("idp_logins_total", method="password", outcome="failed") == limit


def test_mobile_qr_logins_approved_and_denied_are_counted(client, sms_path):
    person, rp = make_citizen(), make_client()
    device = enroll(client, sms_path, person.document, person.password)
    moved = Moves(client)
    _, page = login_page(client, rp)
    challenge = qr_challenge_id(page)
    assert decide(client, device, challenge, code=shown_code(page)).get_json()["status"] == "approved"
    consent(client, continue_login(client, page, challenge))
    _, page = login_page(client.application.test_client(), rp)
    assert decide(client, device, qr_challenge_id(page), "deny").status_code == 200
    assert moved("idp_logins_total", method="mobile_qr", outcome="succeeded") == 1
    assert moved("idp_logins_total", method="mobile_qr", outcome="failed") == 1


def test_requests_are_counted_by_route_never_by_path(client):
    moved = Moves(client)
    ids = [new_dni(), new_dni()]
    for challenge in ids:
        assert client.get(f"/mobile/status/{challenge}").status_code == 404
    assert client.get("/.well-known/openid-configuration").status_code == 200
    assert client.get("/jwks.json").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    exposition = client.get("/metrics", headers=SCRAPER).get_data(as_text=True)
    assert not any(challenge in exposition for challenge in ids) and "/no/such" not in exposition
    assert moved("idp_http_requests_total", route="mobile.status", status="404") == 2
    assert moved("idp_http_requests_total", route="oidc.openid_configuration", status="200") == 1
    assert moved("idp_http_requests_total", route="oidc.jwks", status="200") == 1
    assert moved("idp_http_requests_total", route="unmatched", status="404") == 1
    assert moved("idp_http_request_duration_seconds_count", route="oidc.jwks") == 1


def test_an_authorization_request_refused_with_a_page_is_counted_under_its_route(client):
    moved = Moves(client)
    assert AuthorizationAttempt("no-such-client", "https://rp.example/cb").start(client).status_code == 400
    assert moved("idp_http_requests_total", route="oidc.authorize", status="400") == 1


def test_readyz_answers_503_with_a_reason_when_the_database_is_unreachable(tmp_path):
    # Nothing listens on port 1: every connection is refused at once.
    unreachable = create_app(IDP_DATABASE_URL="postgresql+psycopg://idp:x@127.0.0.1:1/idp",
                             IDP_KEYS_DIR=str(tmp_path / "keys"), IDP_SECRET_KEY="x")
    probe = unreachable.test_client()
    answer = probe.get("/readyz")
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.get_json() == {"status": "unavailable", "reason": "database_unreachable"}
    assert probe.get("/healthz").status_code == 200


def test_readyz_answers_ready_when_the_database_answers(app, browser):
    assert browser.get("/readyz").get_json() == {"status": "ready"}


def test_userinfo_answered_in_front_of_flask_is_counted_under_its_route(client, sms_path):
    issued = tokens_for(client, sms_path, make_client(), make_citizen())
    moved = Moves(client)
    assert client.get("/userinfo", headers=bearer_of(issued)).status_code == 200
    assert client.post("/userinfo", headers={"Authorization": "Bearer nothing"}).status_code == 401
    assert moved("idp_http_requests_total", route="oidc.userinfo", status="200") == 1
    assert moved("idp_http_requests_total", route="oidc.userinfo", status="401") == 1
