"""Interoperability: panva's openid-client (Node.js), not Authlib, is the relying party.

It discovers the IdP, sends the citizen to the authorization endpoint with PKCE S256, state
and nonce, then redeems the code — checking the RFC 9207 ``iss`` parameter and validating
the ID token against the JWKS — reads UserInfo and refreshes. Python plays the browser over
real HTTP: activation, login and consent through the hosted forms.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.factories import new_dni
from tests.support.live import LiveIdp, activate, form_post, free_port, register_citizen

pytestmark = pytest.mark.xdist_group("interop")

PASSWORD = "Interop-Clave-2026!"
LOW = "http://eidas.europa.eu/LoA/low"


def test_openid_client_completes_code_flow_with_pkce_userinfo_and_refresh(live_idp: LiveIdp,
                                                                         relying_party):
    redirect_uri = f"http://127.0.0.1:{free_port()}/cb"  # nothing listens: the browser stops there
    client = live_idp.cli_json("client", "create", "--name", "Sede interop", "--redirect-uri",
                               redirect_uri, "--scope", "openid profile national_id")
    document = new_dni()
    activate(live_idp, document, register_citizen(live_idp, document, PASSWORD,
                                                  second_surname="Ortega"), PASSWORD)
    rp = {"issuer": live_idp.env["IDP_ISSUER"], "client_id": client["client_id"],
          "client_secret": client["client_secret"]}

    started = relying_party("start", {**rp, "redirect_uri": redirect_uri})
    callback = _browser_signs_in(live_idp, started["url"], document, redirect_uri)
    assert parse_qs(urlsplit(callback).query)["iss"] == [rp["issuer"]]
    done = relying_party("finish", {**rp, "callback_url": callback,
                                    **{key: started[key] for key in ("code_verifier", "state", "nonce")}})

    claims, userinfo, refreshed = done["claims"], done["userinfo"], done["refreshed"]
    assert claims["iss"] == rp["issuer"] and claims["aud"] in (rp["client_id"], [rp["client_id"]])
    assert claims["nonce"] == started["nonce"] and claims["acr"] == LOW and claims["amr"] == ["pwd"]
    assert claims["sub"] and claims["sub"] != document  # pairwise, never the DNI
    assert userinfo["sub"] == claims["sub"]
    assert userinfo["document_number"] == document and userinfo["document_type"] == "DNI"
    assert userinfo["first_surname"] == "Martín" and userinfo["second_surname"] == "Ortega"
    assert userinfo["family_name"] == "Martín Ortega" and userinfo["given_name"] == "Lucía"
    assert refreshed["refresh_token"] and refreshed["refresh_token"] != done["tokens"]["refresh_token"]
    assert refreshed["access_token"] != done["tokens"]["access_token"]
    assert refreshed["claims"]["sub"] == claims["sub"]  # openid-client validated it too


def _browser_signs_in(idp: LiveIdp, authorization_url: str, document: str, redirect_uri: str) -> str:
    """Follow the RP's authorization URL, log in, consent; return the redirect to the RP."""
    with requests.Session() as browser:
        login = browser.get(authorization_url, timeout=10)
        assert urlsplit(login.url).path == "/authorize" and 'action="/login"' in login.text, login.url
        consent = form_post(browser, login, f"{idp.url}/login", document=document, password=PASSWORD)
        assert urlsplit(consent.url).path == "/consent", consent.url
        answer = form_post(browser, consent, f"{idp.url}/consent", follow=False, decision="allow")
    assert answer.status_code in (302, 303), answer.text[:500]
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri + "?"), location
    return location
