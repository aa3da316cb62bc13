"""Parallel requests on several worker processes (SQLite, or PostgreSQL under
scripts/with-postgres.sh): a request is signed once whatever the parallel authorisations,
and downloaded once whatever the parallel downloads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from idp.sms import latest_code
from tests.factories import new_dni
from tests.firma.support import make_pdf
from tests.support.live import RP_REDIRECT, LiveIdp, active_citizen, form_post, start_idp

pytestmark = pytest.mark.xdist_group("firma-parallel")
PASSWORD = "Firma-Paralela-2026!"
PARALLEL = 12


@pytest.fixture(scope="module")
def idp(tmp_path_factory):  # type: ignore[no-untyped-def]
    server = start_idp(tmp_path_factory.mktemp("firma-parallel"), workers=4)
    yield server
    server.stop()


def in_parallel(call, count: int = PARALLEL) -> list:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def at_the_sms_code(idp: LiveIdp) -> tuple[dict, str, requests.Session, requests.Response]:
    """A signature client's request, its citizen logged in and asked for the SMS code."""
    client = idp.cli_json("client", "create", "--name", "Sede", "--redirect-uri", RP_REDIRECT,
                          "--signature")
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    created = requests.post(f"{idp.url}/api/signature/v1/requests", timeout=30,
                            auth=(client["client_id"], client["client_secret"]),
                            files={"file": ("a.pdf", make_pdf())},
                            data={"redirect_uri": RP_REDIRECT, "state": "s"}).json()
    browser = requests.Session()
    login = browser.get(created["sign_url"], timeout=10)
    otp = form_post(browser, login, f"{idp.url}/login", document=document, password=PASSWORD)
    review = form_post(browser, otp, f"{idp.url}/login/otp", otp=latest_code(idp.sms_file) or "")
    assert "/signature/" in review.url, review.text[:500]
    code_page = form_post(browser, review, f"{created['sign_url']}/sign")
    return client, created["request_id"], browser, code_page


def test_the_right_code_sent_in_parallel_signs_once(idp):
    client, request_id, browser, code_page = at_the_sms_code(idp)
    code = latest_code(idp.sms_file) or ""
    answers = in_parallel(lambda: form_post(browser, code_page, f"{idp.url}/signature/otp",
                                            follow=False, otp=code))
    back = [a for a in answers if a.status_code == 302 and a.headers["Location"].startswith(RP_REDIRECT)]
    assert len(back) == 1, [a.status_code for a in answers]
    assert all(a.status_code < 500 for a in answers)
    assert idp.scalar("SELECT count(*) FROM audit_events WHERE tag = 'signature_signed'"
                      " AND CAST(detail AS TEXT) LIKE :id", id=f"%{request_id}%") == 1


def test_parallel_downloads_give_the_signed_document_once(idp):
    client, request_id, browser, code_page = at_the_sms_code(idp)
    form_post(browser, code_page, f"{idp.url}/signature/otp", follow=False,
              otp=latest_code(idp.sms_file) or "")
    answers = in_parallel(lambda: requests.get(
        f"{idp.url}/api/signature/v1/requests/{request_id}/document", timeout=30,
        auth=(client["client_id"], client["client_secret"])))
    assert sorted(a.status_code for a in answers) == [200] + [410] * (PARALLEL - 1)
