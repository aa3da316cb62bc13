"""One relying party can never use, inspect or spoil what another one was given."""

from __future__ import annotations

from idp.audit import EventTag
from idp.extensions import db
from idp.models import AuditEvent
from tests.factories import make_citizen, make_client
from tests.oidc.test_code_flow import basic
from tests.security.conftest import authorize, tokens_for


def _two_clients():  # type: ignore[no-untyped-def]
    return (make_client(redirect_uris=["https://a.example/cb"]),
            make_client(redirect_uris=["https://b.example/cb"]))


def test_a_client_cannot_redeem_another_clients_code(app, browser, sms_file):
    a, b = _two_clients()
    attempt, code = authorize(browser, sms_file, b, make_citizen())
    response = browser.post("/token", headers=basic(a.client_id, a.secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": attempt.redirect_uri,
        "code_verifier": attempt.verifier})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_a_client_can_neither_introspect_nor_revoke_another_clients_token(app, browser, sms_file):
    a, b = _two_clients()
    access = tokens_for(browser, sms_file, b, make_citizen())["access_token"]
    seen = browser.post("/introspect", headers=basic(a.client_id, a.secret), data={"token": access})
    revoked = browser.post("/revoke", headers=basic(a.client_id, a.secret), data={"token": access})
    assert seen.get_json() == {"active": False}
    assert revoked.status_code == 400
    owner = browser.post("/introspect", headers=basic(b.client_id, b.secret), data={"token": access})
    assert owner.get_json()["active"] is True


def test_another_clients_refresh_token_is_refused_untouched_and_audited(app, browser, sms_file):
    a, b = _two_clients()
    refresh = tokens_for(browser, sms_file, b, make_citizen())["refresh_token"]

    stolen = browser.post("/token", headers=basic(a.client_id, a.secret), data={
        "grant_type": "refresh_token", "refresh_token": refresh})
    owner = browser.post("/token", headers=basic(b.client_id, b.secret), data={
        "grant_type": "refresh_token", "refresh_token": refresh})

    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"
    assert owner.status_code == 200, owner.get_json()
    tags = db.session.scalars(db.select(AuditEvent.tag)).all()
    assert EventTag.TOKEN_CLIENT_MISMATCH in tags and EventTag.REFRESH_REPLAYED not in tags


def test_a_registered_client_failing_to_authenticate_is_audited(app, browser):
    rp = make_client()
    for endpoint in ("/token", "/introspect", "/revoke"):
        response = browser.post(endpoint, headers=basic(rp.client_id, "not-the-secret"),
                                data={"grant_type": "refresh_token", "refresh_token": "x",
                                      "token": "x"})
        assert response.status_code == 401
    browser.post("/token", data={"grant_type": "refresh_token", "refresh_token": "x",
                                 "client_id": "nobody", "client_secret": "x"})
    events = db.session.scalars(db.select(AuditEvent).filter_by(
        tag=EventTag.CLIENT_AUTH_FAILED)).all()
    assert [(e.client_id, e.detail["endpoint"]) for e in events] == [
        (rp.client_id, "token"), (rp.client_id, "introspection"), (rp.client_id, "revocation")]
