"""Back-Channel Logout: RPs that asked are told, by a signed logout_token, that a session ended."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.extensions import db
from idp.sessions import end_all_sessions
from tests.factories import make_citizen, make_client
from tests.oidc.test_code_flow import full_login, id_token_claims, redeem
from tests.support.browser import AuthorizationAttempt, code_from, consent, log_in


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    received: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers["Content-Length"])
            received.append(parse_qs(self.rfile.read(length).decode()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/backchannel", received
    server.shutdown()
    server.server_close()
    thread.join()


def _logged_in(browser, sms_file, uri):  # type: ignore[no-untyped-def]
    person = make_citizen()
    rp = make_client(backchannel_logout_uri=uri)
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    tokens = redeem(browser, rp, attempt, full_login(browser, sms_file, rp, person, attempt)).get_json()
    return person, rp, tokens


def test_logout_sends_a_signed_logout_token_with_sid_and_sub(app, browser, sms_file, receiver):
    uri, received = receiver
    _, rp, tokens = _logged_in(browser, sms_file, uri)
    id_claims = id_token_claims(browser, tokens["id_token"])
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert len(received) == 1
    keys = KeySet.import_key_set(browser.get("/jwks.json").get_json())
    token = jwt.decode(received[0]["logout_token"][0], keys, algorithms=["RS256", "ES256"])
    claims = token.claims
    assert claims["aud"] == rp.client_id and claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"] and "nonce" not in claims
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert token.header["typ"] == "logout+jwt"


def test_backchannel_logout_token_carries_the_receiving_clients_sid(app, browser, sms_file, receiver):
    uri, received = receiver
    person = make_citizen()
    sids = {}
    for host in ("one.example", "two.example"):
        rp = make_client(redirect_uris=[f"https://{host}/cb"], backchannel_logout_uri=uri)
        attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
        response = attempt.start(browser)
        if "/login" in response.headers["Location"]:
            response = log_in(browser, response, person.document, person.password, sms_file)
        tokens = redeem(browser, rp, attempt, code_from(consent(browser, response))).get_json()
        sids[rp.client_id] = id_token_claims(browser, tokens["id_token"])["sid"]
    browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    keys = KeySet.import_key_set(browser.get("/jwks.json").get_json())
    told = [jwt.decode(body["logout_token"][0], keys, algorithms=["RS256", "ES256"]).claims
            for body in received]
    assert {claims["aud"]: claims["sid"] for claims in told} == sids
    assert len(set(sids.values())) == 2


def test_ending_every_session_of_a_citizen_notifies_the_rp(app, browser, sms_file, receiver):
    uri, received = receiver
    person, _, _ = _logged_in(browser, sms_file, uri)
    end_all_sessions(person.citizen)
    db.session.commit()
    assert len(received) == 1


def test_discovery_announces_back_channel_logout(app, browser):
    document = browser.get("/.well-known/openid-configuration").get_json()
    assert document["backchannel_logout_supported"] and document["backchannel_logout_session_supported"]


def test_an_unreachable_rp_does_not_stop_the_logout_and_is_audited(app, browser, sms_file):
    from idp.audit import EventTag
    from idp.models import AuditEvent
    from tests.support.live import free_port

    _, _, tokens = _logged_in(browser, sms_file, f"http://127.0.0.1:{free_port()}/gone")
    response = browser.get("/logout", query_string={"id_token_hint": tokens["id_token"]})
    assert response.status_code == 200
    event = db.session.scalar(db.select(AuditEvent).filter_by(tag=EventTag.BACKCHANNEL_LOGOUT))
    assert event.detail == {"delivered": False}
