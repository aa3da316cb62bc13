"""Logging in with Cl@ve mobile: QR approval and every refusal (number matching has its own
file, test_number_matching.py)."""

from __future__ import annotations

from joserfc import jwt
from joserfc.jwk import OctKey

from idp.assurance import ACR_SUBSTANTIAL
from idp.clock import clock
from idp.extensions import db
from idp.mobile.models import Device
from idp_mobile.device import DeviceKey
from tests.factories import make_citizen, make_client, new_dni
from tests.mobile.support import (
    API,
    continue_login,
    decide,
    enroll,
    login_page,
    push,
    qr_challenge_id,
    shown_code,
    signed_get,
)
from tests.oidc.test_code_flow import id_token_claims, redeem
from tests.support.browser import code_from, consent


def test_approved_qr_login_reaches_the_rp_with_a_mobile_acr_and_amr(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    rp = make_client()
    attempt, page = login_page(browser, rp)
    challenge_id = qr_challenge_id(page)
    details = signed_get(browser, device, f"{API}/challenges/{challenge_id}").get_json()
    assert details["requester"] == "Agencia de Pruebas"
    assert decide(browser, device, challenge_id, code=shown_code(page)).get_json() == {"status": "approved"}
    assert browser.get(f"/mobile/status/{challenge_id}").get_json()["status"] == "approved"
    code = code_from(consent(browser, continue_login(browser, page, challenge_id)))
    claims = id_token_claims(browser, redeem(browser, rp, attempt, code).get_json()["id_token"])
    assert claims["acr"] == ACR_SUBSTANTIAL and claims["amr"] == ["mfa", "swk", "user"]


def test_qr_image_is_a_png_only_for_the_browser_it_was_shown_to(app, browser, sms_file):
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    image = browser.get(f"/mobile/qr/{challenge_id}.png")
    assert image.status_code == 200 and image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert app.test_client().get(f"/mobile/qr/{challenge_id}.png").status_code == 404


def test_approval_cannot_be_continued_from_another_browser(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    decide(browser, device, challenge_id, code=shown_code(page))
    thief = app.test_client()
    thief_page = thief.get("/login")
    assert continue_login(thief, thief_page, challenge_id).status_code == 400


def test_denied_request_is_shown_clearly_with_a_way_to_retry(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    assert decide(browser, device, challenge_id, "deny").get_json() == {"status": "denied"}
    result = continue_login(browser, page, challenge_id)
    assert result.status_code == 400 and "/login?ir=" in result.get_data(as_text=True)


def test_expired_challenge_cannot_be_approved_or_continued(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    clock.advance(minutes=5, seconds=1)
    assert decide(browser, device, challenge_id, code=shown_code(page)).status_code == 404
    assert browser.get(f"/mobile/status/{challenge_id}").get_json()["status"] == "expired"
    assert continue_login(browser, page, challenge_id).status_code == 400


def test_a_challenge_is_used_once(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    decide(browser, device, challenge_id, code=shown_code(page))
    assert decide(browser, device, challenge_id, "deny").status_code == 404
    continue_login(browser, page, challenge_id)
    assert continue_login(browser, page, challenge_id).status_code == 400


def test_replayed_approval_proof_is_refused(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    path = f"{API}/challenges/{challenge_id}/decision"
    proof = device.proof("POST", device.issuer + path, challenge=challenge_id, decision="deny")
    assert decide(browser, device, challenge_id, proof=proof).status_code == 200
    replay = decide(browser, device, challenge_id, proof=proof)
    assert replay.status_code == 401 and replay.get_json()["error"] == "replayed_proof"


def test_proof_signed_by_another_key_is_refused(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    impostor = DeviceKey(DeviceKey.generate().key, device.device_id, device.issuer)
    refused = signed_get(browser, impostor, f"{API}/pending")
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_signature"


def test_proof_for_another_url_or_too_old_is_refused(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    other = device.proof("GET", device.issuer + f"{API}/challenges/x")
    refused = browser.get(f"{API}/pending", headers={"Device-Proof": other})
    assert refused.get_json()["error"] == "wrong_target"
    old = device.proof("GET", device.issuer + f"{API}/pending")
    clock.advance(minutes=2)
    assert browser.get(f"{API}/pending", headers={"Device-Proof": old}).get_json()["error"] == "stale_proof"


def test_revoked_device_can_no_longer_approve(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    db.session.get(Device, device.device_id).revoked_at = clock.now()
    db.session.commit()
    _, page = login_page(browser, make_client())
    refused = decide(browser, device, qr_challenge_id(page), code=shown_code(page))
    assert refused.status_code == 401 and refused.get_json()["error"] == "unknown_device"


def test_a_blocked_password_blocks_approvals_until_a_new_password_is_set(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    person.citizen.password_blocked = True
    db.session.commit()
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)

    refused = decide(browser, device, challenge_id, code=shown_code(page))

    assert refused.status_code == 403 and refused.get_json()["error"] == "credential_blocked"
    assert browser.get(f"/mobile/status/{challenge_id}").get_json()["status"] == "pending"
    assert decide(browser, device, challenge_id, "deny").get_json() == {"status": "denied"}


def test_an_approval_taken_after_the_password_got_blocked_logs_nobody_in(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    _, page = login_page(browser, make_client())
    challenge_id = qr_challenge_id(page)
    assert decide(browser, device, challenge_id, code=shown_code(page)).get_json() == {"status": "approved"}
    person.citizen.password_blocked = True  # five wrong passwords meanwhile, elsewhere
    db.session.commit()

    answer = continue_login(browser, page, challenge_id)

    assert answer.status_code == 400 and "/consent" not in answer.headers.get("Location", "")


def test_a_push_request_for_a_blocked_password_reaches_no_app(app, browser, sms_file):
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    person.citizen.password_blocked = True
    db.session.commit()
    _, page = login_page(browser, make_client())

    waiting = push(browser, page, person.document, "01012031")

    assert waiting.status_code == 200  # the page looks as for a document without app
    assert signed_get(browser, device, f"{API}/pending").get_json() == {"pending": []}


def test_push_page_looks_the_same_for_an_unknown_document_or_one_without_app(app, browser, sms_file):
    person = make_citizen()
    _, page = login_page(browser, make_client())
    without_app = push(browser, page, person.document, person.contrast_data)
    unknown = push(browser, page, new_dni(), "01012031")
    assert without_app.status_code == unknown.status_code == 200
    assert _masked(without_app) == _masked(unknown)
    assert 'class="verification-code"' in without_app.get_data(as_text=True)


def _masked(response) -> str:  # type: ignore[no-untyped-def]
    """The page without what differs between any two requests: ids, tokens, numbers."""
    import re

    html = response.get_data(as_text=True).split("<main", 1)[1]
    html = re.sub(r'(value|data-challenge|data-status-url|data-expires-in)="[^"]*"', "", html)
    return re.sub(r"\d+", "N", html)


def test_device_proof_garbage_never_causes_a_server_error(app, browser):
    hmac_signed = jwt.encode({"alg": "HS256", "kid": "x"}, {"a": 1}, OctKey.import_key("k" * 32),
                             ["HS256"])
    for value in ["", "a.b.c", "x" * 5000, hmac_signed]:
        assert browser.get(f"{API}/pending", headers={"Device-Proof": value}).status_code == 401
