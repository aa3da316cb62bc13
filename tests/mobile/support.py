"""A phone for the tests: enrolls through the API and signs calls with its own key."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from idp.clock import clock
from idp.sms import latest_code
from idp_mobile.device import PROOF_HEADER, DeviceKey
from tests.support.browser import AuthorizationAttempt, submit
from tests.support.mobile import code_shown_in

API = "/api/mobile/v1"


def enroll(browser: FlaskClient, sms_file: Path, document: str, password: str,
           issuer: str = "http://localhost") -> DeviceKey:
    started = browser.post(f"{API}/enrollments", json={"document": document, "password": password,
                                                       "device_name": "Test phone"})
    assert started.status_code == 201, started.get_json()
    device = DeviceKey.generate()
    done = browser.post(f"{API}/devices", json={"enrollment": started.get_json()["enrollment"],
                                                "otp": latest_code(sms_file),
                                                "public_jwk": device.public_jwk()})
    assert done.status_code == 201, done.get_json()
    device.device_id, device.issuer = done.get_json()["device_id"], issuer
    return device


def signed_get(browser: FlaskClient, device: DeviceKey, path: str) -> TestResponse:
    proof = device.proof("GET", device.issuer + path, iat=clock.timestamp())
    return browser.get(path, headers={PROOF_HEADER: proof})


def decide(browser: FlaskClient, device: DeviceKey, challenge_id: str, decision: str = "approve",
           code: object = None, proof: str | None = None) -> TestResponse:
    """The app's signed decision; ``code`` is what the citizen typed (left out when None)."""
    path = f"{API}/challenges/{challenge_id}/decision"
    extra = {"code": code} if code is not None else {}
    proof = proof or device.proof("POST", device.issuer + path, challenge=challenge_id,
                                  decision=decision, iat=clock.timestamp(), **extra)
    return browser.post(path, headers={PROOF_HEADER: proof})


def qr_challenge_id(login_page: TestResponse) -> str:
    return re.search(r'data-challenge="([^"]+)"', login_page.get_data(as_text=True)).group(1)


def loaded(browser: FlaskClient, login_page: TestResponse) -> TestResponse:
    """A login page as a browser shows it: with its QR image, whose first request stores
    the challenge the page drafted (``idp.mobile.challenges``)."""
    image = re.search(r'class="qr" src="([^"]+)"', login_page.get_data(as_text=True)).group(1)
    assert browser.get(image).status_code == 200
    return login_page


def shown_code(page: TestResponse) -> str:
    """The code the page tells the citizen to type in the app."""
    return code_shown_in(page.get_data(as_text=True))


def login_page(browser: FlaskClient, rp) -> tuple[AuthorizationAttempt, TestResponse]:  # type: ignore[no-untyped-def]
    """An RP's authorization request, landing on the login page with its QR challenge."""
    attempt = AuthorizationAttempt(rp.client_id, rp.redirect_uri)
    return attempt, loaded(browser, attempt.start(browser))


def continue_login(browser: FlaskClient, page: TestResponse, challenge_id: str) -> TestResponse:
    """The page's "continue" (what login.js submits once the app has decided)."""
    return submit(browser, page, "/mobile/continue", challenge=challenge_id)


def push(browser: FlaskClient, page: TestResponse, document: str, contrast: str) -> TestResponse:
    """The no-QR path: DNI/NIE and contrast data; the answer is the waiting page."""
    return submit(browser, page, "/mobile/push", document=document, contrast_data=contrast)
