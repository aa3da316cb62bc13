"""Back-Channel Logout: RPs that asked are told, by a signed logout_token, that a session
ended. The token is sent after the citizen's request (an outbox row written with the end of
the session), tried again a bounded number of times, and its final outcome audited once."""

from __future__ import annotations

import base64
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import current_app
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.audit import EventTag
from idp.clients import ClientError
from idp.clock import clock
from idp.extensions import db
from idp.models import AuditEvent
from idp.oidc import backchannel
from idp.oidc.id_token import sid_for
from idp.oidc.models import BackchannelLogout
from idp.sessions import end_all_sessions
from tests.factories import make_citizen, make_client, new_dni
from tests.oidc.test_code_flow import full_login, id_token_claims, redeem
from tests.support.browser import AuthorizationAttempt, asks_to_log_in, code_from, consent, log_in
from tests.support.cli import cli_for
from tests.support.live import RP_REDIRECT, active_citizen, authorize, form_post, free_port, start_idp
from tests.support.receivers import Held, allow_loopback_uris, answer, serving


@pytest.fixture
def receiver(app):  # type: ignore[no-untyped-def]
    allow_loopback_uris(app)
    with serving(answer(200), path="/backchannel") as rp:
        yield rp


def settle(app) -> None:  # type: ignore[no-untyped-def]
    """Wait until the delivery threads of the served app and of the test's app are done."""
    for each in (app, current_app):
        assert each.extensions["idp.backchannel"].wait_until_idle()


def _logged_in(browser, sms_file, uri):  # type: ignore[no-untyped-def]
    person = make_citizen()
    rp = make_client(backchannel_logout_uri=uri)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    tokens = redeem(browser, rp, attempt, full_login(browser, sms_file, rp, person, attempt)).get_json()
    return person, rp, tokens


def _outcomes() -> list[dict]:
    db.session.expire_all()
    return [e.detail for e in db.session.scalars(db.select(AuditEvent).filter_by(
        tag=EventTag.BACKCHANNEL_LOGOUT).order_by(AuditEvent.id))]


def _pending() -> int:
    return db.session.scalar(db.select(db.func.count()).select_from(BackchannelLogout))


def _logout_claims(browser, logout_token: str) -> dict:  # type: ignore[no-untyped-def]
    keys = KeySet.import_key_set(browser.get("/jwks.json").get_json())
    token = jwt.decode(logout_token, keys, algorithms=["RS256", "ES256"])
    assert token.header["typ"] == "logout+jwt"
    return token.claims


def test_logout_sends_a_signed_logout_token_with_sid_and_sub(app, browser, sms_file, receiver):
    _, rp, tokens = _logged_in(browser, sms_file, receiver.url)
    id_claims = id_token_claims(browser, tokens["id_token"])
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    settle(app)
    assert receiver.hits == 1
    claims = _logout_claims(browser, receiver.bodies[0]["logout_token"][0])
    assert claims["aud"] == rp.client_id and claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"] and "nonce" not in claims
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert _outcomes() == [{"delivered": True, "attempts": 1}] and _pending() == 0


def test_backchannel_logout_token_carries_the_receiving_clients_sid(app, browser, sms_file, receiver):
    uri = receiver.url
    person = make_citizen()
    sids = {}
    for host in ("one.example", "two.example"):
        rp = make_client(redirect_uris=[f"https://{host}/cb"], backchannel_logout_uri=uri)
        attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
        response = attempt.start(browser)
        if asks_to_log_in(response):
            response = log_in(browser, response, person.document, person.password, sms_file)
        tokens = redeem(browser, rp, attempt, code_from(consent(browser, response))).get_json()
        sids[rp.client_id] = id_token_claims(browser, tokens["id_token"])["sid"]
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    settle(app)
    told = [_logout_claims(browser, body["logout_token"][0]) for body in receiver.bodies]
    assert {claims["aud"]: claims["sid"] for claims in told} == sids
    assert len(set(sids.values())) == 2


def test_ending_every_session_of_a_citizen_notifies_the_rp(app, browser, sms_file, receiver):
    person, _, _ = _logged_in(browser, sms_file, receiver.url)
    end_all_sessions(person.citizen)
    db.session.commit()  # as the act that ended them
    settle(app)
    assert receiver.hits == 1


def test_discovery_announces_back_channel_logout(app, browser):
    document = browser.get("/.well-known/openid-configuration").get_json()
    assert document["backchannel_logout_supported"] and document["backchannel_logout_session_supported"]


def test_a_loopback_receiver_is_refused_by_default(app):
    with pytest.raises(ClientError, match="backchannel_logout_uri"):
        make_client(backchannel_logout_uri="http://127.0.0.1:8001/backchannel")


def test_logout_does_not_wait_for_a_slow_backchannel_receiver(app, browser, sms_file):
    allow_loopback_uris(app)
    slow = Held()
    with serving(slow) as slow_rp:
        _, rp, tokens = _logged_in(browser, sms_file, slow_rp.url)
        response = browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
        assert response.status_code == 200
        assert not slow.answered  # the citizen has the page; the RP has not answered yet
        slow.released.set()
        settle(app)
    assert slow.answered and _outcomes() == [{"delivered": True, "attempts": 1}]
    assert _logout_claims(browser, slow_rp.bodies[0]["logout_token"][0])["aud"] == rp.client_id


def test_backchannel_delivery_is_retried_a_bounded_number_of_times(app, browser, sms_file):
    allow_loopback_uris(app)
    with serving(answer(503)) as failing_rp:
        _, _, tokens = _logged_in(browser, sms_file, failing_rp.url)
        browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
        settle(app)
        assert failing_rp.hits == 1 and _outcomes() == [] and _pending() == 1
        backchannel.deliver_due()
        assert failing_rp.hits == 1  # not again before the pause is over
        for _ in range(2 * backchannel.MAX_ATTEMPTS):
            clock.advance(hours=2)
            backchannel.deliver_due()
    assert failing_rp.hits == backchannel.MAX_ATTEMPTS
    assert _outcomes() == [{"delivered": False, "attempts": backchannel.MAX_ATTEMPTS}]
    assert _pending() == 0


def test_an_unreachable_rp_does_not_stop_the_logout_and_a_later_purge_delivers(
        app, browser, sms_file, monkeypatch):
    allow_loopback_uris(app)
    port = free_port()
    _, _, tokens = _logged_in(browser, sms_file, f"http://127.0.0.1:{port}/backchannel")
    assert browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]}).status_code == 200
    settle(app)
    assert _pending() == 1 and _outcomes() == []
    run = cli_for(app, monkeypatch)
    monkeypatch.setenv("IDP_DEV_LOOPBACK_CLIENT_URIS", "1")
    with serving(answer(200), port=port) as back_up:
        assert '"backchannel_logouts_delivered": 0' in run("purge", "--json").stdout
        clock.advance(seconds=backchannel.BACKOFF[0].total_seconds())
        assert '"backchannel_logouts_delivered": 1' in run("purge", "--json").stdout
    assert back_up.hits == 1 and _outcomes() == [{"delivered": True, "attempts": 2}]


def test_a_uri_refused_since_registration_receives_nothing(app, browser, sms_file, receiver):
    """Every delivery checks the URI again (a name may resolve elsewhere later)."""
    _, _, tokens = _logged_in(browser, sms_file, receiver.url)
    app.config["IDP_DEV_LOOPBACK_CLIENT_URIS"] = current_app.config["IDP_DEV_LOOPBACK_CLIENT_URIS"] = False
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    settle(app)
    assert receiver.hits == 0 and _pending() == 1


def test_parallel_delivery_passes_send_each_logout_once(app, receiver):
    person = make_citizen()
    rp = make_client(backchannel_logout_uri=receiver.url)
    for n in range(20):
        db.session.add(BackchannelLogout(client_id=rp.client_id, sid=f"sid-{n}",
                                         citizen_id=person.citizen.id, next_attempt_at=clock.now()))
    db.session.commit()

    def one_pass(_: int) -> int:
        with app.app_context():
            return backchannel.deliver_due()

    with ThreadPoolExecutor(max_workers=4) as pool:
        delivered = sum(pool.map(one_pass, range(4)))
    keys = KeySet.import_key_set(app.extensions["idp.keys"].public_jwks())
    sids = [jwt.decode(body["logout_token"][0], keys).claims["sid"] for body in receiver.bodies]
    assert delivered == 20 and sorted(sids) == sorted(sid_for(rp.client_id, f"sid-{n}") for n in range(20))
    assert len(_outcomes()) == 20 and _pending() == 0


def _served_login(idp, receiver_uri: str):  # type: ignore[no-untyped-def]
    """A citizen logs in over HTTP to an RP registered with ``receiver_uri``; its browser,
    client and tokens."""
    document, password = new_dni(), "Cierre-Lento-2026!"
    active_citizen(idp, document, password)
    client = idp.cli_json("client", "create", "--name", "Sede", "--redirect-uri", RP_REDIRECT,
                          "--default-acr", "http://eidas.europa.eu/LoA/low",
                          "--backchannel-logout-uri", receiver_uri)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    browser = requests.Session()
    page = authorize(browser, idp, client["client_id"], code_challenge=challenge)
    consent = form_post(browser, page, f"{idp.url}/login", document=document, password=password)
    redirect = form_post(browser, consent, f"{idp.url}/consent", follow=False, decision="allow")
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    tokens = requests.post(f"{idp.url}/token", timeout=10,
                           auth=(client["client_id"], client["client_secret"]),
                           data={"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": RP_REDIRECT, "code_verifier": verifier}).json()
    return browser, client, tokens


def test_a_served_logout_answers_before_a_slow_rp_which_is_told_afterwards(tmp_path):
    """Under ``idp serve`` (gunicorn, threaded workers), as in production."""
    slow = Held()
    with serving(slow) as slow_rp:
        idp = start_idp(tmp_path, IDP_DEV_LOOPBACK_CLIENT_URIS="1")
        try:
            browser, client, tokens = _served_login(idp, slow_rp.url)
            logout = browser.get(f"{idp.url}/logout", timeout=10,
                                 params={"id_token_hint": tokens["id_token"]})
            assert logout.status_code == 200 and not slow.answered
            assert slow_rp.wait_for(1)
            slow.released.set()
            keys = KeySet.import_key_set(requests.get(f"{idp.url}/jwks.json", timeout=10).json())
            claims = jwt.decode(slow_rp.bodies[0]["logout_token"][0], keys).claims
            assert claims["aud"] == client["client_id"]
            assert claims["sid"] == jwt.decode(tokens["id_token"], keys).claims["sid"]
        finally:
            idp.stop()
