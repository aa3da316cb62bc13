"""private_key_jwt: an assertion is checked against the client's keys, registered inline or
fetched from its ``jwks_uri``. Every failure is ``invalid_client``, never a 500; the fetch is
cached, and cut off by a total deadline and a size cap, so anonymous requests cannot make
the IdP fetch (or wait, or fill its memory) at will."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from idp import outbound
from idp.clock import clock
from idp.oidc import client_keys
from tests.factories import make_client
from tests.support.receivers import Flood, allow_loopback_uris, answer, drip, serving

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KEY = RSAKey.generate_key(2048, parameters={"kid": "rp-key"})
NEW_KEY = RSAKey.generate_key(2048, parameters={"kid": "rp-key-2"})
_jtis = iter(range(10**6))


def signed(client_id: str, key: RSAKey = KEY, kid: str | None = None) -> str:
    now = int(time.time())  # Authlib checks an assertion's times against the real clock
    return jwt.encode({"alg": "RS256", "kid": kid or key.kid}, {
        "iss": client_id, "sub": client_id, "aud": "http://localhost/token",
        "iat": now, "exp": now + 60, "jti": f"jti-{next(_jtis)}"}, key)


def authenticate(browser, assertion: str) -> str:  # type: ignore[no-untyped-def]
    """The error of a refresh with an unknown token: ``invalid_grant`` once the client is
    authenticated, ``invalid_client`` when it is not (``rate_limited`` past the limit)."""
    response = browser.post("/token", data={
        "grant_type": "refresh_token", "refresh_token": "unknown",
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
    assert response.status_code in (400, 401, 429), response.get_data(as_text=True)[:300]
    return response.get_json()["error"]


def jwks_of(*keys: RSAKey) -> dict:
    return KeySet(list(keys)).as_dict(private=False)


def test_a_client_assertion_for_a_secret_client_is_invalid_client_not_500(app, browser):
    rp = make_client()
    assert authenticate(browser, signed(rp.client_id)) == "invalid_client"


def test_a_client_assertion_for_a_public_client_is_invalid_client(app, browser):
    rp = make_client(auth_method="none")
    assert authenticate(browser, signed(rp.client_id)) == "invalid_client"


def test_an_assertion_signed_with_a_key_from_the_jwks_uri_authenticates(app, browser):
    allow_loopback_uris(app)
    with serving(answer(200, jwks_of(KEY))) as jwks:
        rp = make_client(auth_method="private_key_jwt", jwks_uri=jwks.url)
        assert authenticate(browser, signed(rp.client_id)) == "invalid_grant"
        assert authenticate(browser, signed(rp.client_id, NEW_KEY, kid="rp-key")) == "invalid_client"


@pytest.mark.parametrize("respond", [
    answer(500, {"keys": []}), answer(302), answer(200, ["not", "a", "set"]),
    answer(200, {"keys": "none"}), answer(200, {"keys": [{"kty": "RSA", "n": "x"}]}),
    answer(200, {"keys": []}), answer(200, "text"),
], ids=["500", "redirect", "list", "keys-not-a-list", "broken-key", "no-keys", "string"])
def test_a_jwks_uri_that_fails_or_holds_no_usable_key_is_invalid_client(app, browser, respond):
    allow_loopback_uris(app)
    with serving(respond) as jwks:
        rp = make_client(auth_method="private_key_jwt", jwks_uri=jwks.url)
        assert authenticate(browser, signed(rp.client_id)) == "invalid_client"


def test_a_slow_or_huge_jwks_is_cut_off_within_the_deadline_and_size_cap(app, browser):
    allow_loopback_uris(app)
    floods = [Flood(100 * 2**20, announced=False), Flood(100 * 2**20, announced=True)]
    with serving(drip(interval=0.5)) as slow, serving(floods[0]) as huge, serving(floods[1]) as announced:
        for server in (slow, huge, announced):
            rp = make_client(auth_method="private_key_jwt", jwks_uri=server.url)
            started = time.monotonic()
            assert authenticate(browser, signed(rp.client_id)) == "invalid_client"
            assert time.monotonic() - started < outbound.DEADLINE_SECONDS + 2
    # What the kernel's socket buffers took in, not what the IdP read and kept.
    assert all(flood.sent < 16 * 2**20 for flood in floods)


def test_jwks_is_fetched_once_for_many_token_requests(app, browser):
    allow_loopback_uris(app)
    with serving(answer(200, jwks_of(KEY))) as jwks:
        rp = make_client(auth_method="private_key_jwt", jwks_uri=jwks.url)
        for _ in range(20):
            assert authenticate(browser, signed(rp.client_id)) == "invalid_grant"
        assert jwks.hits == 1
        clock.advance(seconds=client_keys.CACHE_SECONDS)
        assert authenticate(browser, signed(rp.client_id)) == "invalid_grant"
        assert jwks.hits == 2


def test_unknown_key_ids_refetch_the_jwks_at_most_once_per_interval(app, browser):
    allow_loopback_uris(app)
    published = jwks_of(KEY)
    with serving(lambda handler: answer(200, published)(handler)) as jwks:
        rp = make_client(auth_method="private_key_jwt", jwks_uri=jwks.url)
        assert authenticate(browser, signed(rp.client_id)) == "invalid_grant"
        for n in range(10):
            assert authenticate(browser, signed(rp.client_id, NEW_KEY, kid=f"forged-{n}")) == "invalid_client"
        assert jwks.hits == 1
        published = jwks_of(KEY, NEW_KEY)  # the RP rotates its keys
        clock.advance(seconds=client_keys.REFETCH_SECONDS)
        assert authenticate(browser, signed(rp.client_id, NEW_KEY)) == "invalid_grant"
        assert jwks.hits == 2


def test_a_failed_jwks_fetch_is_not_retried_on_every_request(app, browser):
    allow_loopback_uris(app)
    with serving(answer(503)) as jwks:
        rp = make_client(auth_method="private_key_jwt", jwks_uri=jwks.url)
        for _ in range(10):
            assert authenticate(browser, signed(rp.client_id)) == "invalid_client"
        assert jwks.hits == 1
        clock.advance(seconds=client_keys.REFETCH_SECONDS)
        authenticate(browser, signed(rp.client_id))
        assert jwks.hits == 2
