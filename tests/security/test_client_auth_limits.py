"""Failed client authentication at /token, /revoke and /introspect is limited: past the limit
of an address the answer is 429 before any secret is checked or any key fetched, and a flood
leaves a few aggregated audit rows, not one per request."""

from __future__ import annotations

from idp.audit import EventTag
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc import client_keys
from idp.ratelimit import parse_limits
from tests.factories import make_client
from tests.oidc.test_code_flow import basic
from tests.oidc.test_private_key_jwt import authenticate, signed
from tests.support.receivers import allow_loopback_uris, answer, serving

FLOOD = 300


def _refresh(browser, rp, secret: str, address: str = "198.51.100.7"):  # type: ignore[no-untyped-def]
    return browser.post("/token", headers=basic(rp.client_id, secret),
                        data={"grant_type": "refresh_token", "refresh_token": "unknown"},
                        environ_base={"REMOTE_ADDR": address})


def _events(tag: EventTag) -> list[AuditEvent]:
    return list(db.session.scalars(db.select(AuditEvent).filter_by(tag=tag).order_by(AuditEvent.id)))


def _limit(app, name: str) -> int:  # type: ignore[no-untyped-def]
    return parse_limits(app.config["IDP_RATE_LIMITS"])[name].count


def test_a_flood_of_wrong_client_secrets_is_refused_with_429_and_audited_in_aggregate(app, browser):
    rp = make_client()
    limit = _limit(app, "client_auth.ip")
    answers = [_refresh(browser, rp, "not-the-secret") for _ in range(FLOOD)]
    assert [a.status_code for a in answers] == [401] * limit + [429] * (FLOOD - limit)
    refused = answers[-1]
    assert refused.get_json()["error"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 300
    assert len(_events(EventTag.CLIENT_AUTH_FAILED)) == limit
    flooded = _events(EventTag.CLIENT_AUTH_FLOODED)
    assert [(e.detail["limit"], e.detail["refused"]) for e in flooded] == [
        ("client_auth.ip", 1), ("client_auth.ip", 10), ("client_auth.ip", 100)]


def test_past_the_limit_even_the_right_secret_is_not_checked_from_that_address(app, browser):
    rp = make_client()
    for _ in range(_limit(app, "client_auth.ip")):
        _refresh(browser, rp, "not-the-secret")
    assert _refresh(browser, rp, rp.secret).status_code == 429
    assert _refresh(browser, rp, rp.secret, address="203.0.113.5").get_json()["error"] == "invalid_grant"
    clock.advance(seconds=300)
    assert _refresh(browser, rp, rp.secret).get_json()["error"] == "invalid_grant"


def test_revocation_and_introspection_count_and_refuse_alike(app, browser):
    rp = make_client()
    limit = _limit(app, "client_auth.ip")
    for n in range(limit):
        endpoint = ("/token", "/revoke", "/introspect")[n % 3]
        assert browser.post(endpoint, headers=basic(rp.client_id, "wrong"), data={
            "grant_type": "refresh_token", "refresh_token": "x", "token": "x"}).status_code == 401
    for endpoint in ("/revoke", "/introspect"):
        refused = browser.post(endpoint, headers=basic(rp.client_id, rp.secret), data={"token": "x"})
        assert refused.status_code == 429 and refused.get_json()["error"] == "rate_limited"


def test_failures_for_one_client_from_many_addresses_are_audited_in_aggregate(app, browser):
    """Many addresses can each stay under their own limit: past the client's limit their
    failures are still refused as ``invalid_client`` but no longer written one by one; the
    client itself, from its own address, is not locked out."""
    rp = make_client()
    limit = _limit(app, "client_auth.client")
    answers = [_refresh(browser, rp, "wrong", address=f"198.51.100.{n % 200}") for n in range(limit + 20)]
    assert {a.status_code for a in answers} == {401}
    assert len(_events(EventTag.CLIENT_AUTH_FAILED)) == limit
    flooded = _events(EventTag.CLIENT_AUTH_FLOODED)
    assert [(e.client_id, e.detail["limit"], e.detail["refused"]) for e in flooded] == [
        (rp.client_id, "client_auth.client", 1), (rp.client_id, "client_auth.client", 10)]
    assert _refresh(browser, rp, rp.secret, address="203.0.113.5").get_json()["error"] == "invalid_grant"


def test_past_the_limit_a_client_assertion_costs_no_key_fetch(app, browser):
    app.config["IDP_RATE_LIMITS"] = "client_auth.ip=3/300"
    clock.advance(seconds=300 - clock.timestamp() % 300)  # the start of a window
    allow_loopback_uris(app)
    with serving(answer(503)) as jwks:
        rp = make_client(auth_method="private_key_jwt", jwks_uri=jwks.url)
        for _ in range(6):
            authenticate(browser, signed(rp.client_id))
            clock.advance(seconds=client_keys.REFETCH_SECONDS)  # a failed fetch is forgotten
        assert jwks.hits == 3
