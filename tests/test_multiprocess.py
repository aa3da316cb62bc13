"""Two nodes of two worker processes each, on either server, share one database and serve
one citizen's login between them, as nodes behind a load balancer do: every step may land
on any of the four."""

from __future__ import annotations

import base64
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.serving import SERVERS
from idp.sms import latest_code
from idp_mobile.client import MobileClient
from tests.factories import new_dni
from tests.support.live import (
    RP_REDIRECT,
    active_citizen,
    authorize,
    create_client,
    form_post,
    start_idp,
    stop_all,
)
from tests.support.mobile import code_shown_in, qr_shown_on

pytestmark = pytest.mark.xdist_group("multiprocess")
PASSWORD = "Dos-Nodos-2026!"


@pytest.fixture(scope="module", params=SERVERS)
def nodes(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Two nodes of one server kind (``idp serve --server``), two workers each."""
    first = start_idp(tmp_path_factory.mktemp("nodes"), workers=2, server=request.param)
    second = start_idp(first.base, share_with=first, workers=2, server=request.param)
    yield first, second
    stop_all(second, first)  # the first node's database is dropped last


def _authorize(browser: requests.Session, node, client_id: str) -> tuple[requests.Response, str]:  # type: ignore[no-untyped-def]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    page = authorize(browser, node, client_id, code_challenge=challenge, scope="openid profile",
                     state="st")
    return page, verifier


def _code(response: requests.Response) -> str:
    location = response.headers["Location"]
    assert location.startswith(RP_REDIRECT), location  # nothing listens there
    return parse_qs(urlsplit(location).query)["code"][0]


def _redeem(node, client: dict, code: str, verifier: str) -> dict:  # type: ignore[no-untyped-def]
    credentials = (client["client_id"], client["client_secret"])
    response = requests.post(f"{node.url}/token", timeout=10, auth=credentials,
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": RP_REDIRECT, "code_verifier": verifier})
    assert response.status_code == 200, response.text
    return response.json()


def test_password_and_sms_login_alternating_between_two_processes(nodes):
    first, second = nodes
    document = new_dni()
    active_citizen(first, document, PASSWORD)
    client = create_client(first, name="Sede compartida")
    browser = requests.Session()
    page, verifier = _authorize(browser, first, client["client_id"])
    otp_page = form_post(browser, page, f"{second.url}/login", document=document, password=PASSWORD)
    assert 'action="/login/otp"' in otp_page.text  # the password answers the SMS-code page
    consent_page = form_post(browser, otp_page, f"{first.url}/login/otp", otp=latest_code(first.sms_file))
    answer = form_post(browser, consent_page, f"{second.url}/consent", follow=False, decision="allow")
    tokens = _redeem(first, client, _code(answer), verifier)
    info = requests.get(f"{second.url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["given_name"] == "Lucía"


def test_a_refresh_token_sent_to_both_nodes_at_once_is_rotated_once(nodes):
    first, second = nodes
    document = new_dni()
    active_citizen(first, document, PASSWORD)
    client = create_client(first, name="Sede con dos nodos", acr="http://eidas.europa.eu/LoA/low")
    browser = requests.Session()
    page, verifier = _authorize(browser, first, client["client_id"])
    consent_page = form_post(browser, page, f"{first.url}/login", document=document, password=PASSWORD)
    answer = form_post(browser, consent_page, f"{second.url}/consent", follow=False, decision="allow")
    tokens = _redeem(first, client, _code(answer), verifier)
    credentials = (client["client_id"], client["client_secret"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(
            lambda node: requests.post(f"{node.url}/token", timeout=30, auth=credentials, data={
                "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}),
            [first, second] * 4))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 7


def test_mobile_approval_reaching_one_process_is_seen_by_the_browser_on_the_other(nodes):
    first, second = nodes
    document = new_dni()
    active_citizen(first, document, PASSWORD)
    # The phone talks to the second node; the browser to the first.
    phone = MobileClient.for_issuer(first.env["IDP_ISSUER"])
    phone.issuer = second.url  # where its requests go; proofs name the public issuer
    before = latest_code(first.sms_file)
    device = phone.enroll(document, PASSWORD, "phone", lambda hint: _new_code(first, before))
    device.issuer = first.env["IDP_ISSUER"]
    browser = requests.Session()
    page = browser.get(f"{first.url}/login", timeout=10)
    challenge_id = qr_shown_on(browser, page)
    assert _decide_via(second, device, challenge_id, code_shown_in(page.text)) == "approved"
    status = browser.get(f"{first.url}/mobile/status/{challenge_id}", timeout=10).json()
    assert status["status"] == "approved"
    form_post(browser, page, f"{second.url}/mobile/continue", challenge=challenge_id)
    silent = authorize(browser, first, create_client(first)["client_id"], follow=False,
                       prompt="none")
    # Logged in through the mobile approval: prompt=none now fails only for want of consent.
    assert "error=consent_required" in silent.headers["Location"]


def _new_code(node, before):  # type: ignore[no-untyped-def]
    code = latest_code(node.sms_file)
    assert code and code != before
    return code


def _decide_via(node, device, challenge_id: str, code: str) -> str:  # type: ignore[no-untyped-def]
    path = f"/api/mobile/v1/challenges/{challenge_id}/decision"
    proof = device.proof("POST", device.issuer + path, challenge=challenge_id, decision="approve",
                         code=code)
    return requests.post(node.url + path, headers={"Device-Proof": proof}, timeout=10).json()["status"]
