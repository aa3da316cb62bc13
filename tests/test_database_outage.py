"""A database outage: the IdP answers 503 (a page for people, RFC 6749 JSON for clients),
stays alive for the load balancer, and serves again by itself once the database is back.

The outage is real: the IdP reaches PostgreSQL through a TCP relay that the test cuts
(open connections reset, new ones refused) and restores, so the shared test server keeps
running for the other tests. It runs in the PostgreSQL pass of ``make test``.
"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy.engine import make_url

from idp.sms import latest_code
from tests.factories import new_dni
from tests.support.live import (
    RP_REDIRECT,
    active_citizen,
    authorize,
    create_client,
    form_post,
    start_idp,
)
from tests.support.netcut import CuttableLink
from tests.support.postgres import PostgresServer, worker

PASSWORD = "Sin-Base-De-Datos-1"
ENGLISH = {"Accept-Language": "en"}

pytestmark = [
    pytest.mark.xdist_group("faults"),
    pytest.mark.skipif(PostgresServer.from_environment() is None,
                       reason="runs in the PostgreSQL pass of make test (scripts/with-postgres.sh)"),
]


@pytest.fixture
def database_behind_a_link():  # type: ignore[no-untyped-def]
    """(URL through the relay, the relay) for an empty database of the test server."""
    server = PostgresServer.from_environment()
    assert server is not None
    name = f"outage_{worker()}"
    direct = make_url(server.create(name))
    link = CuttableLink((direct.host, direct.port))
    try:
        yield direct.set(port=link.port).render_as_string(hide_password=False), link
    finally:
        link.close()
        server.drop(name)
        server.close()


def test_a_database_outage_gives_503_and_the_idp_recovers_without_a_restart(
        tmp_path, database_behind_a_link):  # type: ignore[no-untyped-def]
    url, link = database_behind_a_link
    idp = start_idp(tmp_path, IDP_DATABASE_URL=url)
    try:
        document = new_dni()
        active_citizen(idp, document, PASSWORD)
        client = create_client(idp)

        link.cut()

        # A bare login page needs no database (its QR challenge waits in the session).
        assert requests.get(f"{idp.url}/login", headers=ENGLISH, timeout=10).status_code == 200
        citizen_browser = requests.Session()
        citizen_browser.headers.update(ENGLISH)
        page = authorize(citizen_browser, idp, client["client_id"])
        assert page.status_code == 503 and "Service temporarily unavailable" in page.text
        assert "Traceback" not in page.text and "psycopg" not in page.text
        assert page.headers["Retry-After"]
        token = requests.post(f"{idp.url}/token", auth=(client["client_id"], client["client_secret"]),
                              data={"grant_type": "authorization_code", "code": "x" * 40,
                                    "redirect_uri": RP_REDIRECT}, timeout=10)
        assert token.status_code == 503
        assert token.json()["error"] == "temporarily_unavailable"
        assert requests.get(f"{idp.url}/readyz", timeout=10).status_code == 503
        assert requests.get(f"{idp.url}/healthz", timeout=10).status_code == 200  # alive

        link.restore()

        assert requests.get(f"{idp.url}/readyz", timeout=10).status_code == 200
        browser = requests.Session()
        page = authorize(browser, idp, client["client_id"])
        otp_page = form_post(browser, page, f"{idp.url}/login", document=document, password=PASSWORD)
        consent = form_post(browser, otp_page, f"{idp.url}/login/otp", otp=latest_code(idp.sms_file))
        answer = form_post(browser, consent, f"{idp.url}/consent", follow=False, decision="allow")
        assert "code=" in answer.headers["Location"]
    finally:
        idp.stop()
