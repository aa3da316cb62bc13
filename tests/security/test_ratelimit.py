"""Per-address limits: not dodged by rotating IPv6 addresses inside one's own /64, and a
flood of forged mobile-app calls is cut off before it costs signature checks or audit rows."""

from __future__ import annotations

from idp.audit import EventTag
from idp.extensions import db
from idp.models import AuditEvent
from tests.factories import make_citizen, new_dni
from tests.mobile.support import API, enroll, signed_get
from tests.support.browser import csrf_token


def _wrong_login(browser, address: str):  # type: ignore[no-untyped-def]
    page = browser.get("/login", environ_base={"REMOTE_ADDR": address})
    return browser.post("/login", environ_base={"REMOTE_ADDR": address}, data={
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "document": new_dni(), "password": "Mala-Clave-1"})


def test_addresses_of_one_ipv6_64_share_a_limit(app, browser):
    app.config["IDP_RATE_LIMITS"] = "login.ip=3/300"
    for n in range(3):
        assert _wrong_login(browser, f"2001:db8:1:2::{n + 1:x}").status_code == 401
    assert _wrong_login(browser, "2001:db8:1:2:ffff::9").status_code == 429
    assert _wrong_login(browser, "2001:db8:1:3::1").status_code == 401


def test_an_ipv4_mapped_address_counts_as_the_ipv4_address(app, browser):
    app.config["IDP_RATE_LIMITS"] = "login.ip=2/300"
    assert _wrong_login(browser, "198.51.100.7").status_code == 401
    assert _wrong_login(browser, "::ffff:198.51.100.7").status_code == 401
    assert _wrong_login(browser, "198.51.100.7").status_code == 429


def test_forged_device_proofs_past_the_limit_are_neither_checked_nor_audited(app, browser):
    app.config["IDP_RATE_LIMITS"] = "device.ip=3/300"
    refused = [browser.get(f"{API}/pending", headers={"Device-Proof": "forged.proof.value"})
               for _ in range(5)]
    assert [r.status_code for r in refused] == [401, 401, 401, 429, 429]
    assert refused[-1].get_json() == {"error": "rate_limited"}
    audited = db.session.scalars(db.select(AuditEvent).filter_by(tag=EventTag.DEVICE_PROOF_REFUSED))
    assert len(audited.all()) == 3


def test_a_genuine_device_is_not_counted_against_its_address(app, browser, sms_file):
    app.config["IDP_RATE_LIMITS"] = "device.ip=2/300"
    person = make_citizen()
    device = enroll(app.test_client(), sms_file, person.document, person.password)
    for _ in range(4):
        assert signed_get(browser, device, f"{API}/pending").status_code == 200
