"""What a relying party can obtain: never more than the scopes it was registered for,
and a consent never covers data that was not actually released."""

from __future__ import annotations

import json

from idp.clock import clock
from idp.extensions import db
from idp.models import Consent
from tests.factories import make_citizen, make_client
from tests.oidc.test_code_flow import id_token_claims
from tests.security.conftest import tokens_for
from tests.support.browser import AuthorizationAttempt, log_in


def test_claims_parameter_cannot_release_data_beyond_the_clients_registered_scopes(
        app, browser, sms_file):
    person = make_citizen()
    rp = make_client(scope="openid profile")  # not registered for national_id nor phone
    asked = {"id_token": {"document_number": {"essential": True}, "given_name": None},
             "userinfo": {"phone_number": None, "person_identifier": None}}

    body = tokens_for(browser, sms_file, rp, person, scope="openid", claims=json.dumps(asked))

    claims = id_token_claims(browser, body["id_token"])
    info = browser.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert "document_number" not in claims and claims["given_name"] == "Lucía"
    assert not {"phone_number", "person_identifier"} & info.get_json().keys()


def test_consent_page_lists_only_what_the_client_may_receive(app, browser, sms_file):
    person = make_citizen()
    rp = make_client(scope="openid profile")
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope="openid profile national_id",
                                   extra={"claims": json.dumps({"userinfo": {"phone_number": None}})})
    response = log_in(browser, attempt.start(browser), person.document, person.password, sms_file)
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    listed = page.split('<dl class="claims')[1].split("</dl>")[0]
    assert "Nombre y apellidos" in listed
    assert person.document not in listed and "+34" not in listed


def test_a_stale_consent_does_not_cover_data_a_client_is_later_registered_for(
        app, browser, sms_file):
    person = make_citizen()
    rp = make_client(scope="openid profile")
    tokens_for(browser, sms_file, rp, person, scope="openid profile national_id")
    consent = db.session.scalar(db.select(Consent).filter_by(citizen_id=person.citizen.id))
    assert "document_number" not in consent.claims

    rp.client.client_metadata = {**rp.client.client_metadata, "scope": "openid profile national_id"}
    db.session.commit()
    clock.advance(seconds=app.config["IDP_CLIENT_CACHE_SECONDS"])  # every process sees it by then
    again = AuthorizationAttempt(rp.client_id, rp.redirect_uri, scope="openid profile national_id",
                                 extra={"prompt": "none"}).start(browser)
    assert "error=consent_required" in again.headers["Location"]
