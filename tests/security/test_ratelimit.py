"""Per-address limits cannot be dodged by rotating IPv6 addresses inside one's own /64."""

from __future__ import annotations

from tests.factories import new_dni
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
