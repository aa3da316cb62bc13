"""UserInfo is answered in front of Flask (``UserInfoFront``) exactly as the Flask route
answers it: for every input, the same status, headers (in their order) and bytes, whether
the front answers it or hands it on, and without Flask's request context when it answers."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from idp.clock import clock
from idp.oidc.endpoints.userinfo import UserInfoFront
from tests.factories import make_citizen, make_client
from tests.oidc import support
from tests.oidc.support import REQUEST_ID
from tests.security.conftest import tokens_for

fuzz = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def bearer_of(issued: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {issued['access_token']}"}


def answers(app, method: str, **options):  # type: ignore[no-untyped-def]
    return support.answers(app, UserInfoFront, method, "/userinfo", **options)


def assert_same(app, method: str, **options) -> tuple:  # type: ignore[no-untyped-def]
    front, flask = answers(app, method, **options)
    assert front == flask
    return front


@pytest.fixture
def issued(app, browser, sms_file) -> dict:  # type: ignore[no-untyped-def]
    return tokens_for(browser, sms_file, make_client(), make_citizen(), scope="openid profile email")


def test_userinfo_is_answered_without_entering_flask(app, issued):
    with support.counting_handoffs(app, UserInfoFront) as handed_on:
        answer = Client(app).get("/userinfo", headers=bearer_of(issued))
        refused = Client(app).get("/userinfo", headers={"Authorization": "Bearer nothing"})
    assert answer.status_code == 200 and answer.get_json()["given_name"]
    assert refused.status_code == 401
    assert handed_on == []


def test_a_token_in_force_gets_the_same_claims_and_headers_as_through_flask(app, issued):
    status, headers, body = assert_same(app, "GET", headers=bearer_of(issued))
    assert status == "200 OK" and json.loads(body)["email"]
    assert ("Cache-Control", "no-store") in headers and ("X-Request-Id", REQUEST_ID) in headers


METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
AUTHORIZATIONS = [
    None, "", "Bearer", "Bearer ", "Bearer x", "Basic Og==", "Token {access}", "Bearer {access}",
    "bearer {access}", "BEARER {access}", "Bearer  {access}", "Bearer {access} ", "Bearer\t{access}",
    "Bearer\x85{access}", "Bearer {access} more", "Bearer {refresh}", "Bearer {access}\xe9",
]


def test_every_method_and_authorization_gets_the_same_answer_as_through_flask(app, issued):
    for method in METHODS:
        for authorization in AUTHORIZATIONS:
            headers = {} if authorization is None else {"Authorization": authorization.format(
                access=issued["access_token"], refresh=issued["refresh_token"])}
            front, flask = answers(app, method, headers=headers)
            assert front == flask, (method, authorization)


BODIES = [
    ({"access_token": "{access}"}, None, False),
    ({"access_token": "{access}"}, None, True),
    ({"access_token": "{refresh}"}, None, False),
    ({"access_token": ""}, None, False),
    ({"other": "x"}, None, False),
    ("access_token={access}&access_token=x", "application/x-www-form-urlencoded", False),
    ("access_token={access}", "application/x-www-form-urlencoded; charset=latin-1", False),
    ("access_token={access}", "APPLICATION/X-WWW-FORM-URLENCODED", False),
    (b"access_token=\xff\xfe", "application/x-www-form-urlencoded", False),
    ('{{"access_token": "{access}"}}', "application/json", False),
    ('{{"access_token": "{access}"}}', "application/json", True),
    ("access_token={access}", "text/plain", True),
    ({"access_token": "{access}"}, "multipart/form-data", False),
    ("access_token=" + "a" * 70_000, "application/x-www-form-urlencoded", False),
    ("access_token=" + "a" * 70_000, "application/x-www-form-urlencoded", True),
]


def test_a_post_body_gets_the_same_answer_as_through_flask(app, issued):
    def filled(value):  # type: ignore[no-untyped-def]
        if isinstance(value, bytes):
            return value
        return value.format(access=issued["access_token"], refresh=issued["refresh_token"])

    for body, content_type, with_header in BODIES:
        data = {k: filled(v) for k, v in body.items()} if isinstance(body, dict) else filled(body)
        headers = {"Authorization": f"Bearer {issued['access_token']}"} if with_header else {}
        options = {"content_type": content_type} if content_type else {}
        front, flask = answers(app, "POST", headers=headers, data=data, **options)
        assert front == flask, (body if len(body) < 100 else "large", content_type, with_header)


def test_a_token_in_the_form_body_is_answered_in_front_of_flask(app, issued):
    with support.counting_handoffs(app, UserInfoFront) as handed_on:
        answer = Client(app).post("/userinfo", data={"access_token": issued["access_token"]})
    assert answer.status_code == 200 and handed_on == []


@pytest.mark.parametrize("options", [
    {"query_string": {"ui_locales": "es"}},
    {"query_string": "x"},
    {"base_url": "https://idp.example"},
    {"base_url": "http://idp.example"},  # plain HTTP to another host: transport's refusal
    {"base_url": "http://[::1]:5000"},
    {"headers": {"Host": "bad host"}},
    {"headers": {"Host": "idp.example:99999"}},
    {"headers": {"X-Request-Id": "no"}},
    {"headers": {"Transfer-Encoding": "chunked"}},
    {"headers": {"Content-Length": "abc"}},
    {"headers": {"Accept-Language": "eu", "Cookie": "idp_lang=gl"}},
])
def test_transport_host_query_and_request_id_cases_get_the_same_answer_as_through_flask(app, issued, options):
    headers = {"Authorization": f"Bearer {issued['access_token']}", **options.pop("headers", {})}
    for method in ("GET", "POST"):
        front, flask = answers(app, method, headers=headers, **options)
        if headers.get("X-Request-Id") == "no":  # not sane: each answer gets a new id
            front, flask = (support.without_request_id(front), support.without_request_id(flask))
        assert front == flask


def test_an_expired_access_token_gets_the_same_refusal_as_through_flask(app, issued):
    clock.advance(hours=2)
    status, headers, _ = assert_same(app, "GET", headers=bearer_of(issued))
    assert status.startswith("401") and any(name == "WWW-Authenticate" for name, _ in headers)


def test_a_token_of_a_disabled_client_gets_the_same_refusal_as_through_flask(app, issued):
    from idp.extensions import db
    from idp.oidc.models import Client as ClientRow

    db.session.execute(ClientRow.__table__.update().values(disabled_at=clock.now()))
    db.session.commit()
    clock.advance(seconds=app.config["IDP_CLIENT_CACHE_SECONDS"] + 1)
    status, _, _ = assert_same(app, "GET", headers=bearer_of(issued))
    assert status.startswith("401")


def test_a_claims_request_is_released_the_same_as_through_flask(app, browser, sms_file):
    claims = json.dumps({"userinfo": {"phone_number": None, "person_identifier": None}})
    issued = tokens_for(browser, sms_file, make_client(), make_citizen(), scope="openid", claims=claims)
    _, _, body = assert_same(app, "GET", headers=bearer_of(issued))
    assert set(json.loads(body)) == {"sub", "phone_number", "person_identifier"}


latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\r\n"), max_size=80)


def test_fuzzed_requests_get_the_same_answer_as_through_flask(app, issued):
    @fuzz
    @given(st.sampled_from(["GET", "HEAD", "POST", "PUT", "OPTIONS"]),
           st.one_of(st.none(), latin1, latin1.map(lambda s: f"Bearer {s}"),
                     st.just(f"Bearer {issued['access_token']}")),
           st.one_of(st.none(), st.dictionaries(st.sampled_from(["access_token", "x"]),
                                               st.one_of(latin1, st.just(issued["access_token"])))),
           st.sampled_from([None, "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]))
    def check(method, authorization, form, content_type):  # type: ignore[no-untyped-def]
        headers = {} if authorization is None else {"Authorization": authorization}
        options = {"data": form} if form is not None and method != "GET" else {}
        if content_type and options:
            options["content_type"] = content_type
        front, flask = answers(app, method, headers=headers, **options)
        assert front == flask
        assert int(front[0][:3]) < 500

    check()


def test_a_database_that_does_not_answer_gets_the_same_503_as_through_flask(app, issued, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    from idp.oidc import bearer as tokens_presented

    def unreachable(*_: object, **__: object) -> None:
        raise OperationalError("SELECT", {}, ConnectionRefusedError())

    monkeypatch.setattr(tokens_presented, "token_in_force", unreachable)
    status, headers, body = assert_same(app, "GET", headers=bearer_of(issued))
    assert status.startswith("503") and ("Retry-After", "30") in headers
    assert json.loads(body)["error"] == "temporarily_unavailable"
    logged = [r for r in caplog.records if r.getMessage() == "database unavailable: OperationalError"]
    assert [r.request_id for r in logged] == [REQUEST_ID, REQUEST_ID]  # the front's, then Flask's
