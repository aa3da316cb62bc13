"""A refresh, or a code's redemption, by a client that authenticates with
``client_secret_basic`` is answered in front of Flask (``TokenFront``) as the Flask route
answers it: the same status, headers in their order, JSON (its random tokens and ID token
aside, compared by what they say), audit row and counts; every other request, and every
refusal, goes on to the route. Neither is idempotent: each way gets a refresh token or a
code of its own, issued alike."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.test import Client

from idp import metrics
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc.endpoints.token import TokenFront
from tests.factories import make_citizen, make_client
from tests.oidc import support
from tests.oidc.test_code_flow import basic, id_token_claims
from tests.security.conftest import authorize, tokens_for

addresses = (f"198.51.100.{n}" for n in itertools.count(1))
REFRESH = "refresh_token"
RANDOM = ("access_token", "refresh_token", "id_token")
# What differs between two ID tokens issued alike a moment apart.
OWN_CLAIMS = ("at_hash", "iat", "exp")


@pytest.fixture
def rp():  # type: ignore[no-untyped-def]
    return make_client()


@pytest.fixture
def two(browser, sms_file, rp) -> list[dict]:  # type: ignore[no-untyped-def]
    """Two token pairs of one citizen's session for ``rp``, alike but for their values."""
    person = make_citizen()
    return [tokens_for(browser, sms_file, rp, person) for _ in range(2)]


def both_ways(app, forms: list[dict], **options) -> list[tuple]:  # type: ignore[no-untyped-def]
    """The front's answer to the first form and Flask's to the second, from one address."""
    headers = {"X-Request-Id": support.REQUEST_ID, "User-Agent": "rp/1.0", **options.pop("headers", {})}
    environ = {"REMOTE_ADDR": next(addresses)}
    return [support.steady(Client(wsgi).post("/token", headers=headers, data=form, environ_base=environ,
                                              **options))
            for wsgi, form in zip((app, support.front_of(app, TokenFront).inner), forms, strict=True)]


def described(browser, answer: tuple) -> tuple:  # type: ignore[no-untyped-def]
    """An answer with its random values replaced by what they are."""
    status, headers, body = answer
    payload = json.loads(body)
    for name in RANDOM:
        if name in payload:
            value = payload.pop(name)
            claims = id_token_claims(browser, value) if name == "id_token" else {}
            payload[name] = {k: v for k, v in claims.items() if k not in OWN_CLAIMS} if claims else len(value)
    return status, headers, payload


def refresh_of(issued: dict) -> dict[str, str]:
    return {"grant_type": REFRESH, "refresh_token": issued["refresh_token"]}


def test_a_refresh_is_answered_without_entering_flask_and_its_new_pair_works(app, browser, rp, two):
    owner = basic(rp.client_id, rp.secret)
    with support.counting_handoffs(app, TokenFront) as handed_on:
        first = Client(app).post("/token", headers=owner, data=refresh_of(two[0]))
        second = Client(app).post("/token", headers=owner, data=refresh_of(first.json))
    assert first.status_code == second.status_code == 200 and handed_on == []
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {second.json['access_token']}"})
    assert info.status_code == 200
    assert info.get_json()["sub"] == id_token_claims(browser, second.json["id_token"])["sub"]


def test_a_refresh_gets_the_same_status_headers_and_token_response_as_through_flask(app, browser, rp, two):
    owner = basic(rp.client_id, rp.secret)
    front, flask = both_ways(app, [refresh_of(two[0]), refresh_of(two[1])], headers=owner)
    assert described(browser, front) == described(browser, flask)
    status, headers, payload = described(browser, front)
    assert status == "200 OK" and ("Cache-Control", "no-store") in headers
    assert ("Pragma", "no-cache") in headers
    assert payload["scope"] == "openid profile" and payload["id_token"]["sid"]


def test_a_refresh_through_the_front_writes_the_audit_row_flask_writes(app, browser, rp, two):
    both_ways(app, [refresh_of(two[0]), refresh_of(two[1])], headers=basic(rp.client_id, rp.secret))
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.detail["grant_type"].as_string() == REFRESH)
                              .order_by(AuditEvent.id)).all()
    assert len(rows) == 2
    seen = [(r.tag, r.citizen_id, r.client_id, r.detail, r.user_agent, r.request_id) for r in rows]
    assert seen[0] == seen[1] == ("token_issued", rows[0].citizen_id, rp.client_id, {"grant_type": REFRESH},
                                  "rp/1.0", support.REQUEST_ID)
    assert rows[0].ip == rows[1].ip and rows[0].ip.startswith("198.51.100.")


def test_a_refresh_through_the_front_is_counted_as_the_route_counts_it(app, rp, two):
    issued = metrics.TOKENS.labels(REFRESH, "issued")
    before = issued._value.get()  # noqa: SLF001
    assert Client(app).post("/token", headers=basic(rp.client_id, rp.secret),
                            data=refresh_of(two[0])).status_code == 200
    assert issued._value.get() == before + 1  # noqa: SLF001


def test_a_token_rotated_by_the_front_is_single_use_and_its_replay_revokes_the_new_pair(
        app, browser, rp, two):
    owner = basic(rp.client_id, rp.secret)
    rotated = Client(app).post("/token", headers=owner, data=refresh_of(two[0])).json
    with support.counting_handoffs(app, TokenFront) as handed_on:
        replay = Client(app).post("/token", headers=owner, data=refresh_of(two[0]))
    assert replay.status_code == 400 and replay.json["error"] == "invalid_grant" and handed_on == [1]
    seen = browser.get("/userinfo", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert seen.status_code == 401
    assert db.session.scalar(select(AuditEvent.tag).where(AuditEvent.tag == "refresh_replayed")) is not None


def test_refusals_and_other_requests_get_the_same_answer_as_through_flask(app, rp, two):
    other = make_client()
    post_client = make_client(auth_method="client_secret_post")
    token = two[0]["refresh_token"]
    owner = basic(rp.client_id, rp.secret)
    cases = [
        {"headers": basic(rp.client_id, "wrong"), "data": {"grant_type": REFRESH, "refresh_token": token}},
        {"headers": basic("no-such-client", "x"), "data": {"grant_type": REFRESH, "refresh_token": token}},
        {"headers": basic(other.client_id, other.secret),
         "data": {"grant_type": REFRESH, "refresh_token": token}},
        {"headers": basic(post_client.client_id, post_client.secret),
         "data": {"grant_type": REFRESH, "refresh_token": token}},
        {"headers": {"Authorization": "Basic %%%"}, "data": {"grant_type": REFRESH, "refresh_token": token}},
        {"data": {"grant_type": REFRESH, "refresh_token": token, "client_id": rp.client_id,
                  "client_secret": rp.secret}},
        {"headers": owner, "data": {"grant_type": REFRESH}},
        {"headers": owner, "data": {"grant_type": REFRESH, "refresh_token": ""}},
        {"headers": owner, "data": {"grant_type": REFRESH, "refresh_token": "nothing"}},
        {"headers": owner, "data": {"grant_type": REFRESH, "refresh_token": token, "scope": "openid email"}},
        {"headers": owner, "data": {"grant_type": "password", "refresh_token": token}},
        {"headers": owner, "data": {"refresh_token": token}},
        {"headers": owner, "data": json.dumps({"grant_type": REFRESH, "refresh_token": token}),
         "content_type": "application/json"},
        {"headers": owner, "data": "refresh_token=" + "a" * 70_000,
         "content_type": "application/x-www-form-urlencoded"},
        {"headers": owner, "data": {"grant_type": REFRESH, "refresh_token": token}, "base_url": "http://idp.example"},
        {"headers": {**owner, "Host": "bad host"}, "data": {"grant_type": REFRESH, "refresh_token": token}},
        {"headers": owner, "method": "GET", "query_string": {"grant_type": REFRESH, "refresh_token": token}},
        {"headers": owner, "method": "PUT", "data": {"grant_type": REFRESH, "refresh_token": token}},
    ]
    for case in cases:
        options = {"environ_base": {"REMOTE_ADDR": next(addresses)}, **case}
        front, flask = support.answers(app, TokenFront, options.pop("method", "POST"), "/token", **options)
        assert front == flask, case
        assert int(front[0][:3]) < 500, case


def test_expired_revoked_and_used_tokens_are_refused_as_through_flask(app, browser, rp, two):
    owner = basic(rp.client_id, rp.secret)
    clock.advance(days=400)
    front, flask = both_ways(app, [refresh_of(two[0]), refresh_of(two[1])], headers=owner)
    assert front == flask and json.loads(front[2])["error"] == "invalid_grant"
    clock.reset()
    assert browser.post("/revoke", headers=owner, data={"token": two[0]["refresh_token"]}).status_code == 200
    assert browser.post("/revoke", headers=owner, data={"token": two[1]["refresh_token"]}).status_code == 200
    front, flask = both_ways(app, [refresh_of(two[0]), refresh_of(two[1])], headers=owner)
    assert front == flask and json.loads(front[2])["error"] == "invalid_grant"


def test_an_address_past_its_limit_of_failures_is_refused_by_the_route(app, rp, two):
    address = {"REMOTE_ADDR": "203.0.113.9"}
    client = Client(app)
    while client.post("/token", headers=basic(rp.client_id, "wrong"), data=refresh_of(two[0]),
                      environ_base=address).status_code != 429:
        pass
    with support.counting_handoffs(app, TokenFront) as handed_on:
        refused = client.post("/token", headers=basic(rp.client_id, rp.secret), data=refresh_of(two[0]),
                              environ_base=address)
    assert refused.status_code == 429 and handed_on == [1]
    assert client.post("/token", headers=basic(rp.client_id, rp.secret),
                       data=refresh_of(two[0])).status_code == 200  # untouched by the refusal


def test_claims_asked_for_in_the_id_token_are_in_the_refreshed_one_as_through_flask(
        app, browser, sms_file, rp):
    person = make_citizen()
    asked = json.dumps({"id_token": {"given_name": None}})
    two = [tokens_for(browser, sms_file, rp, person, claims=asked) for _ in range(2)]
    owner = basic(rp.client_id, rp.secret)
    front, flask = both_ways(app, [refresh_of(two[0]), refresh_of(two[1])], headers=owner)
    assert described(browser, front) == described(browser, flask)
    assert described(browser, front)[2]["id_token"]["given_name"] == person.citizen.given_name


latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255, blacklist_characters="\r\n"), max_size=60)


def test_fuzzed_token_requests_get_the_same_answer_as_through_flask(app, rp, two):
    used = Client(app).post("/token", headers=basic(rp.client_id, rp.secret), data=refresh_of(two[1]))
    assert used.status_code == 200

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.one_of(st.none(), latin1, st.just(basic(rp.client_id, rp.secret)["Authorization"])),
           st.dictionaries(st.sampled_from(["grant_type", "refresh_token", "scope", "client_id", "code"]),
                           st.one_of(latin1, st.sampled_from([REFRESH, "authorization_code", "openid",
                                                              two[1]["refresh_token"], rp.client_id]))))
    def check(authorization, form):  # type: ignore[no-untyped-def]
        headers = {} if authorization is None else {"Authorization": authorization}
        front, flask = support.answers(app, TokenFront, "POST", "/token", headers=headers, data=form,
                                       environ_base={"REMOTE_ADDR": next(addresses)})
        assert front == flask
        assert int(front[0][:3]) < 500

    check()


def test_a_refresh_asking_for_more_than_its_scope_is_refused_without_using_the_token_up(app, rp, two):
    owner = basic(rp.client_id, rp.secret)
    wider = Client(app).post("/token", headers=owner, data={**refresh_of(two[0]), "scope": "openid email"})
    assert wider.status_code == 400 and wider.json["error"] == "invalid_scope"
    narrower = Client(app).post("/token", headers=owner, data={**refresh_of(two[0]), "scope": "openid"})
    assert narrower.status_code == 200 and narrower.json["scope"] == "openid"


def test_a_refresh_the_front_does_not_read_is_answered_by_the_route(app, browser, sms_file, rp, two):
    owner = basic(rp.client_id, rp.secret)
    third = tokens_for(browser, sms_file, rp, make_citizen())
    with support.counting_handoffs(app, TokenFront) as handed_on:
        multipart = Client(app).post("/token", headers=owner, data=refresh_of(two[0]),
                                     content_type="multipart/form-data")
        narrower = Client(app).post("/token", headers=owner, data={**refresh_of(two[1]), "scope": "openid"})
        queried = Client(app).post("/token", headers=owner, data=refresh_of(third), query_string="x=1")
    assert multipart.status_code == narrower.status_code == queried.status_code == 200
    assert handed_on == [1, 1, 1]


@pytest.fixture
def codes(browser, sms_file, rp) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Two codes of one citizen's session for ``rp``, each with its attempt (redirect URI,
    PKCE verifier), alike but for their values."""
    person = make_citizen()
    tokens_for(browser, sms_file, rp, person)  # logged in and consented
    return [authorize(browser, sms_file, rp, person) for _ in range(2)]


def redemption_of(attempt, value: str, **changes: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"grant_type": "authorization_code", "code": value, "redirect_uri": attempt.redirect_uri,
            "code_verifier": attempt.verifier, **changes}


def test_a_code_is_redeemed_without_entering_flask_as_through_flask(app, browser, rp, codes):
    owner = basic(rp.client_id, rp.secret)
    with support.counting_handoffs(app, TokenFront) as handed_on:
        front, flask = both_ways(app, [redemption_of(*codes[0]), redemption_of(*codes[1])], headers=owner)
    assert handed_on == [1]  # the one sent to Flask on purpose
    (status, headers, payload), flask_answer = described(browser, front), described(browser, flask)
    # Each attempt has a nonce of its own, which its ID token carries.
    assert [payload["id_token"].pop("nonce"), flask_answer[2]["id_token"].pop("nonce")] == [
        attempt.nonce for attempt, _ in codes]
    assert (status, headers, payload) == flask_answer
    assert status == "200 OK" and payload["refresh_token"] == 43
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.tag == "token_issued")
                              .order_by(AuditEvent.id.desc()).limit(2)).all()
    expected = (rows[0].citizen_id, rp.client_id, {"grant_type": "authorization_code"}, rows[0].ip,
                support.REQUEST_ID)
    assert [(r.citizen_id, r.client_id, r.detail, r.ip, r.request_id) for r in rows] == [expected, expected]


def test_a_code_redeemed_by_the_front_is_single_use_and_its_reuse_revokes_its_tokens(app, browser, rp, codes):
    owner = basic(rp.client_id, rp.secret)
    issued = Client(app).post("/token", headers=owner, data=redemption_of(*codes[0])).json
    with support.counting_handoffs(app, TokenFront) as handed_on:
        again = Client(app).post("/token", headers=owner, data=redemption_of(*codes[0]))
    assert again.status_code == 400 and again.json["error"] == "invalid_grant" and handed_on == [1]
    seen = browser.get("/userinfo", headers={"Authorization": f"Bearer {issued['access_token']}"})
    assert seen.status_code == 401
    refreshed = Client(app).post("/token", headers=owner, data=refresh_of(issued))
    assert refreshed.status_code == 400


def test_a_code_with_another_redirect_uri_or_verifier_is_refused_as_through_flask(app, rp, codes):
    owner = basic(rp.client_id, rp.secret)
    other_verifier = "v" * 43
    for changes in [{"redirect_uri": "https://rp.example/other"}, {"code_verifier": other_verifier},
                    {"code_verifier": "short"}, {"code_verifier": ""}, {"redirect_uri": ""},
                    {"redirect_uri": "https://rp.example/cb\0"}, {"code": ""}]:
        forms = [redemption_of(*code, **changes) for code in codes]
        front, flask = both_ways(app, forms, headers=owner)
        assert front == flask, changes
        assert front[0] == "400 BAD REQUEST", changes
    without = [{k: v for k, v in redemption_of(*code).items() if k != name}
               for code in codes for name in ("code_verifier",)]
    front, flask = both_ways(app, without, headers=owner)
    assert front == flask and front[0] == "400 BAD REQUEST"


def test_a_code_refused_by_the_route_after_the_front_handed_it_on_is_used_up_as_before(app, rp, codes):
    """The route checks the verifier after its claim: the code is then used, as without the
    front (a thief holding the code without its verifier still spends it)."""
    owner = basic(rp.client_id, rp.secret)
    wrong = Client(app).post("/token", headers=owner, data=redemption_of(*codes[0], code_verifier="v" * 43))
    right = Client(app).post("/token", headers=owner, data=redemption_of(*codes[0]))
    assert wrong.status_code == right.status_code == 400


def test_fuzzed_redemptions_get_the_same_answer_as_through_flask(app, rp, codes):
    attempt, code = codes[0]
    assert Client(app).post("/token", headers=basic(rp.client_id, rp.secret),
                            data=redemption_of(attempt, code)).status_code == 200

    known = st.sampled_from(["authorization_code", code, attempt.redirect_uri, attempt.verifier])

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from(["grant_type", "code", "redirect_uri", "code_verifier", "scope"]),
                           st.one_of(latin1, known)))
    def check(form):  # type: ignore[no-untyped-def]
        front, flask = support.answers(app, TokenFront, "POST", "/token", data=form,
                                       headers=basic(rp.client_id, rp.secret),
                                       environ_base={"REMOTE_ADDR": next(addresses)})
        assert front == flask
        assert int(front[0][:3]) < 500

    check()
