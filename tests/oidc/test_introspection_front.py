"""Introspection by a client that authenticates with ``client_secret_basic`` is answered in
front of Flask (``IntrospectionFront``) exactly as the Flask route answers it; every other
request, and every refusal (which the route counts and audits), goes on to the route."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from idp.clock import clock
from idp.oidc.endpoints.introspection import IntrospectionFront
from tests.factories import make_citizen, make_client
from tests.oidc import support
from tests.oidc.test_code_flow import basic
from tests.security.conftest import tokens_for

addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def answers(app, **options):  # type: ignore[no-untyped-def]
    """Each request from its own address: a refusal counted twice (once each way) must not
    bring the next one to the limit of failures."""
    options.setdefault("environ_base", {"REMOTE_ADDR": next(addresses)})
    return support.answers(app, IntrospectionFront, options.pop("method", "POST"), "/introspect", **options)


def assert_same(app, **options) -> tuple:  # type: ignore[no-untyped-def]
    front, flask = answers(app, **options)
    assert front == flask
    return front


@pytest.fixture
def rp():  # type: ignore[no-untyped-def]
    return make_client()


@pytest.fixture
def issued(browser, sms_file, rp) -> dict:  # type: ignore[no-untyped-def]
    return tokens_for(browser, sms_file, rp, make_citizen())


def test_introspection_with_the_secret_in_the_header_is_answered_without_entering_flask(app, rp, issued):
    with support.counting_handoffs(app, IntrospectionFront) as handed_on:
        seen = Client(app).post("/introspect", headers=basic(rp.client_id, rp.secret),
                                data={"token": issued["access_token"]})
        unknown = Client(app).post("/introspect", headers=basic(rp.client_id, rp.secret),
                                   data={"token": "nothing", "token_type_hint": "refresh_token"})
    assert seen.get_json()["active"] is True and unknown.get_json() == {"active": False}
    assert handed_on == []


def test_a_token_in_force_is_described_as_through_flask(app, rp, issued):
    for token, hint in [("access_token", None), ("access_token", "access_token"), ("refresh_token", None),
                        ("refresh_token", "refresh_token"), ("access_token", "refresh_token"),
                        ("access_token", "")]:
        data = {"token": issued[token], **({"token_type_hint": hint} if hint is not None else {})}
        status, headers, body = assert_same(app, headers=basic(rp.client_id, rp.secret), data=data)
        assert status == "200 OK" and ("Cache-Control", "no-store") in headers


def test_refusals_and_other_ways_to_authenticate_get_the_same_answer_as_through_flask(app, rp, issued):
    other = make_client()
    token = issued["access_token"]
    cases = [
        {"headers": basic(rp.client_id, "wrong"), "data": {"token": token}},
        {"headers": basic("no-such-client", "x"), "data": {"token": token}},
        {"headers": basic(other.client_id, other.secret), "data": {"token": token}},  # not its token
        {"headers": {"Authorization": "Basic %%%"}, "data": {"token": token}},
        {"headers": {"Authorization": f"Basic {rp.client_id}"}, "data": {"token": token}},
        {"data": {"token": token, "client_id": rp.client_id, "client_secret": rp.secret}},
        {"data": {"token": token}},
        {"headers": basic(rp.client_id, rp.secret), "data": {}},
        {"headers": basic(rp.client_id, rp.secret), "data": {"token": ""}},
        {"headers": basic(rp.client_id, rp.secret), "data": {"token": token, "token_type_hint": "id_token"}},
        {"headers": basic(rp.client_id, rp.secret), "data": json.dumps({"token": token}),
         "content_type": "application/json"},
        {"headers": basic(rp.client_id, rp.secret), "data": {"token": token},
         "content_type": "multipart/form-data"},
        {"headers": basic(rp.client_id, rp.secret), "data": "token=" + "a" * 70_000,
         "content_type": "application/x-www-form-urlencoded"},
        {"headers": basic(rp.client_id, rp.secret), "data": {"token": token}, "query_string": "token=x"},
        {"headers": basic(rp.client_id, rp.secret), "data": {"token": token}, "base_url": "http://idp.example"},
        {"headers": basic(rp.client_id, rp.secret), "data": {"token": token}, "base_url": "https://idp.example"},
        {"headers": {**basic(rp.client_id, rp.secret), "Host": "bad host"}, "data": {"token": token}},
        {"headers": basic(rp.client_id, rp.secret), "method": "GET", "query_string": {"token": token}},
        {"headers": basic(rp.client_id, rp.secret), "method": "PUT", "data": {"token": token}},
    ]
    for case in cases:
        front, flask = answers(app, **case)
        assert front == flask, case


def test_an_expired_or_revoked_token_is_inactive_as_through_flask(app, browser, rp, issued):
    owner = basic(rp.client_id, rp.secret)
    clock.advance(hours=2)
    _, _, body = assert_same(app, headers=owner, data={"token": issued["access_token"]})
    assert json.loads(body) == {"active": False}
    clock.reset()
    assert browser.post("/revoke", headers=basic(rp.client_id, rp.secret),
                        data={"token": issued["refresh_token"]}).status_code == 200
    _, _, body = assert_same(app, headers=owner, data={"token": issued["access_token"]})
    assert json.loads(body) == {"active": False}


def test_an_address_past_its_limit_of_failures_is_refused_by_the_route(app, rp, issued):
    address = {"REMOTE_ADDR": "203.0.113.9"}
    client = Client(app)
    while client.post("/introspect", headers=basic(rp.client_id, "wrong"), data={"token": "x"},
                      environ_base=address).status_code != 429:
        pass
    with support.counting_handoffs(app, IntrospectionFront) as handed_on:
        refused = client.post("/introspect", headers=basic(rp.client_id, rp.secret),
                              data={"token": issued["access_token"]}, environ_base=address)
    assert refused.status_code == 429 and handed_on == [1]


def test_a_rotated_secret_works_at_once_through_the_route(app, rp, issued):
    from idp.clients import rotate_secret
    from idp.extensions import db

    assert Client(app).post("/introspect", headers=basic(rp.client_id, rp.secret),
                            data={"token": issued["access_token"]}).get_json()["active"] is True
    new_secret = rotate_secret(rp.client_id).secret
    db.session.commit()
    seen = Client(app).post("/introspect", headers=basic(rp.client_id, new_secret),
                            data={"token": issued["access_token"]})
    assert seen.get_json()["active"] is True


latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\r\n"), max_size=60)


def test_fuzzed_introspection_requests_get_the_same_answer_as_through_flask(app, rp, issued):
    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.one_of(st.none(), latin1, st.just(basic(rp.client_id, rp.secret)["Authorization"])),
           st.dictionaries(st.sampled_from(["token", "token_type_hint", "client_id"]),
                           st.one_of(latin1, st.sampled_from([issued["access_token"], issued["refresh_token"],
                                                              "access_token", "refresh_token"]))))
    def check(authorization, form):  # type: ignore[no-untyped-def]
        headers = {} if authorization is None else {"Authorization": authorization}
        front, flask = answers(app, headers=headers, data=form)
        assert front == flask
        assert int(front[0][:3]) < 500

    check()
