"""Parallel requests against several worker processes: single use and counters hold,
because they are conditional UPDATEs in the database, not process locks."""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.sms import latest_code, read_sms_file
from idp_mobile.device import PROOF_HEADER, DeviceKey
from tests.factories import new_dni
from tests.passkeys.authenticator import SoftAuthenticator
from tests.support.live import RP_REDIRECT, active_citizen, authorize, create_client, form_post, start_idp
from tests.support.mobile import code_shown_in, enrolled_citizen, qr_shown_on

pytestmark = pytest.mark.xdist_group("concurrency")
PASSWORD = "Muchos-Hilos-2026!"
PARALLEL = 20


@pytest.fixture(scope="module")
def idp(tmp_path_factory):  # type: ignore[no-untyped-def]
    server = start_idp(tmp_path_factory.mktemp("parallel"), workers=4)
    yield server
    server.stop()


def in_parallel(call, count: int = PARALLEL) -> list:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def _code_and_client(idp, acr: str = "http://eidas.europa.eu/LoA/low"):  # type: ignore[no-untyped-def]
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    client = create_client(idp, acr=acr)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    browser = requests.Session()
    page = authorize(browser, idp, client["client_id"], code_challenge=challenge)
    consent = form_post(browser, page, f"{idp.url}/login", document=document, password=PASSWORD)
    answer = form_post(browser, consent, f"{idp.url}/consent", follow=False, decision="allow")
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    return code, verifier, client, document


def _token(idp, client, **form):  # type: ignore[no-untyped-def]
    return requests.post(f"{idp.url}/token", data=form, timeout=30,
                         auth=(client["client_id"], client["client_secret"]))


def test_a_code_redeemed_by_twenty_parallel_requests_yields_exactly_one_token(idp):
    code, verifier, client, _ = _code_and_client(idp)
    answers = in_parallel(lambda: _token(idp, client, grant_type="authorization_code", code=code,
                                         redirect_uri=RP_REDIRECT, code_verifier=verifier))
    assert sorted(a.status_code for a in answers) == [200] + [400] * (PARALLEL - 1)
    # Each of the others found the code used, a reuse, which revoked what it issued.
    (issued,) = [a.json() for a in answers if a.status_code == 200]
    assert _token(idp, client, grant_type="refresh_token",
                  refresh_token=issued["refresh_token"]).status_code == 400


def test_a_refresh_token_used_in_parallel_yields_exactly_one_new_token(idp):
    code, verifier, client, _ = _code_and_client(idp)
    first = _token(idp, client, grant_type="authorization_code", code=code, redirect_uri=RP_REDIRECT,
                   code_verifier=verifier).json()
    answers = in_parallel(lambda: _token(idp, client, grant_type="refresh_token",
                                         refresh_token=first["refresh_token"]))
    assert sorted(a.status_code for a in answers) == [200] + [400] * (PARALLEL - 1)
    # Each of the others found the token used, a replay, which revoked the new pair as well.
    (rotated,) = [a.json() for a in answers if a.status_code == 200]
    assert _token(idp, client, grant_type="refresh_token",
                  refresh_token=rotated["refresh_token"]).status_code == 400


def test_parallel_wrong_passwords_block_exactly_at_the_fifth(idp):
    document = new_dni()
    active_citizen(idp, document, PASSWORD)

    def attempt():  # type: ignore[no-untyped-def]
        session = requests.Session()
        page = session.get(f"{idp.url}/login", timeout=10)
        return form_post(session, page, f"{idp.url}/login", document=document, password="Mala-1234!")

    in_parallel(attempt, 12)
    shown = idp.cli_json("citizen", "show", document)
    assert shown["password_blocked"] is True and shown["password_failures"] == 5


def test_parallel_otp_guesses_never_exceed_the_try_limit(idp):
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    browser = requests.Session()
    page = authorize(browser, idp, create_client(idp)["client_id"])
    otp_page = form_post(browser, page, f"{idp.url}/login", document=document, password=PASSWORD)
    right = latest_code(idp.sms_file)
    wrong = [f"{(int(right) + n) % 1000000:06d}" for n in range(1, PARALLEL + 1)]
    guesses = iter(wrong)
    in_parallel(lambda: form_post(browser, otp_page, f"{idp.url}/login/otp", follow=False,
                                  otp=next(guesses)))
    late = form_post(browser, otp_page, f"{idp.url}/login/otp", follow=False, otp=right)
    assert late.status_code == 400  # the code was exhausted after 3 wrong tries, whatever the race


def test_parallel_guesses_of_the_code_to_type_decide_the_request_once(idp, tmp_path):
    _, state = enrolled_citizen(idp, tmp_path, PASSWORD)
    phone = DeviceKey.load(state)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    challenge_id = qr_shown_on(browser, page)
    right = code_shown_in(page.text)
    guesses = iter([right, *(f"{(int(right) + n) % 1000:03d}" for n in range(1, PARALLEL))])
    url = f"{idp.url}/api/mobile/v1/challenges/{challenge_id}/decision"

    def approve():  # type: ignore[no-untyped-def]
        proof = phone.proof("POST", url, challenge=challenge_id, decision="approve", code=next(guesses))
        return requests.post(url, headers={PROOF_HEADER: proof}, timeout=30)

    answers = in_parallel(approve)

    decided = [a.json()["status"] for a in answers if a.status_code == 200]
    assert len(decided) == 1 and sum(a.status_code == 404 for a in answers) == PARALLEL - 1
    status = browser.get(f"{idp.url}/mobile/status/{challenge_id}", timeout=10).json()["status"]
    assert status == {"approved": "approved", "wrong_code": "denied"}[decided[0]]


def test_a_drafted_qr_challenge_asked_for_in_parallel_is_stored_once(idp):
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    challenge_id = re.search(r'data-challenge="([^"]+)"', page.text).group(1)
    paths = itertools.cycle([f"/mobile/qr/{challenge_id}.png", f"/mobile/status/{challenge_id}"])
    asked = [next(paths) for _ in range(PARALLEL)]

    answers = in_parallel(lambda: browser.get(idp.url + asked.pop(), timeout=30))

    assert [a.status_code for a in answers] == [200] * PARALLEL  # no conflict, no error
    assert idp.scalar("SELECT count(*) FROM mobile_challenges WHERE id = :id", id=challenge_id) == 1


def _codes_of_one_session(idp, count: int):  # type: ignore[no-untyped-def]
    """One browser logged in once (password alone), then ``count`` codes by single sign-on."""
    code, verifier, client, document = _code_and_client(idp)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    browser = requests.Session()
    page = authorize(browser, idp, client["client_id"], code_challenge=challenge)
    answer = form_post(browser, page, f"{idp.url}/login", follow=False, document=document,
                       password=PASSWORD)  # consent was given: straight back to the RP
    codes = [parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]]
    while len(codes) < count:
        again = authorize(browser, idp, client["client_id"], code_challenge=challenge, follow=False)
        codes.append(parse_qs(urlsplit(again.headers["Location"]).query)["code"][0])
    return browser, client, verifier, codes


def test_a_logout_among_parallel_refreshes_leaves_no_token_of_its_session_alive(idp):
    browser, client, verifier, codes = _codes_of_one_session(idp, PARALLEL)
    issued = [_token(idp, client, grant_type="authorization_code", code=code, redirect_uri=RP_REDIRECT,
                     code_verifier=verifier).json() for code in codes]
    calls = [lambda t=t: _token(idp, client, grant_type="refresh_token", refresh_token=t["refresh_token"])
             for t in issued]
    calls.insert(PARALLEL // 2, lambda: browser.get(f"{idp.url}/logout", timeout=30,
                                                    params={"id_token_hint": issued[0]["id_token"]}))
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = list(pool.map(lambda call: call(), calls))

    assert all(a.status_code in (200, 400) for a in answers), [a.status_code for a in answers]
    minted = [a.json() for a in answers
              if a.status_code == 200 and a.headers["Content-Type"] == "application/json"]
    for tokens in [*minted, *issued]:
        info = requests.get(f"{idp.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 401
    for tokens in minted:  # (a used refresh token presented again would revoke its family)
        assert _token(idp, client, grant_type="refresh_token",
                      refresh_token=tokens["refresh_token"]).status_code == 400


@pytest.fixture
def own_idp(tmp_path):  # type: ignore[no-untyped-def]
    """A server of its own: the per-address limits (``otp.ip``) the module's other tests use
    up from this machine's one address must not turn wrong codes into 429s here."""
    server = start_idp(tmp_path, workers=4)
    yield server
    server.stop()


def test_parallel_wrong_sms_codes_of_several_flows_lock_the_citizen_once_at_the_limit(own_idp):
    idp = own_idp
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    client_id = create_client(idp)["client_id"]
    flows = []
    for _ in range(5):  # five logins, each with its own code: fifteen guesses in all
        browser = requests.Session()
        page = authorize(browser, idp, client_id)
        flows.append((browser, form_post(browser, page, f"{idp.url}/login", document=document,
                                         password=PASSWORD)))
    sent = {re.search(r"\d{6}", sms["text"]).group(0) for sms in read_sms_file(idp.sms_file)}  # type: ignore[union-attr]
    wrong = [code for code in (f"{n:06d}" for n in range(100)) if code not in sent]
    guesses = iter([(browser, page, wrong[n]) for n, (browser, page) in enumerate(flows * 3)])

    def guess():  # type: ignore[no-untyped-def]
        browser, page, code = next(guesses)
        return form_post(browser, page, f"{idp.url}/login/otp", follow=False, otp=code)

    answers = in_parallel(guess, 15)
    assert sorted(answer.status_code for answer in answers) == [400] * 9 + [429] * 6
    shown = idp.cli_json("citizen", "show", document)
    assert shown["sms_wrong_codes"] == 10 and shown["sms_codes_locked_until"] is not None
    assert idp.scalar("SELECT count(*) FROM audit_events WHERE tag = 'otp_locked' AND citizen_id = "
                      "(SELECT id FROM citizens WHERE document = :document)", document=document) == 1


def _citizen_with_passkey(idp, key):  # type: ignore[no-untyped-def]
    """A citizen who added the passkey ``key`` on the account page (password + SMS code first)."""
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    browser = requests.Session()
    page = form_post(browser, browser.get(f"{idp.url}/login", timeout=10), f"{idp.url}/login",
                     document=document, password=PASSWORD)
    account = form_post(browser, page, f"{idp.url}/login/otp", otp=latest_code(idp.sms_file) or "")
    asked = _passkey_options(browser, account, f"{idp.url}/account/passkeys/options")
    added = form_post(browser, account, f"{idp.url}/account/passkeys", follow=False, name="Llave",
                      credential=key.create(asked, origin=idp.url, rp_id="127.0.0.1"))
    assert added.status_code == 302, added.text
    return key


def _passkey_options(browser, page, url):  # type: ignore[no-untyped-def]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return browser.post(url, headers={"X-CSRFToken": token}, timeout=10).json()


def test_one_passkey_assertion_sent_twenty_times_in_parallel_logs_in_once(idp):
    """A synced passkey keeps no count: only the challenge, answered once, stops a replay."""
    key = _citizen_with_passkey(idp, SoftAuthenticator(counts=False))
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    assertion = key.get(_passkey_options(browser, page, f"{idp.url}/login/passkey/options"),
                        origin=idp.url, rp_id="127.0.0.1")
    cookies = browser.cookies.get_dict()

    answers = in_parallel(lambda: form_post(_with_cookies(cookies), page, f"{idp.url}/login/passkey",
                                            follow=False, credential=assertion))

    statuses = [a.status_code for a in answers]
    # The others: refused (400), or unchecked past passkey.credential=10/300 (429).
    assert statuses.count(302) == 1 and set(statuses) <= {302, 400, 429}
    assert idp.scalar("SELECT sign_count FROM passkeys WHERE credential_id = :id", id=key.id) == 0


def _with_cookies(cookies: dict) -> requests.Session:  # type: ignore[type-arg]
    session = requests.Session()
    session.cookies.update(cookies)
    return session


def test_two_assertions_with_one_count_in_parallel_log_in_once(idp):
    """Two challenges of one browser answered with the same signature count (a cloned key
    used at the same moment): the count is stored by a conditional UPDATE, so one wins."""
    key = _citizen_with_passkey(idp, SoftAuthenticator())
    browser = requests.Session()
    page = browser.get(f"{idp.url}/login", timeout=10)
    first = _passkey_options(browser, page, f"{idp.url}/login/passkey/options")
    second = _passkey_options(browser, page, f"{idp.url}/login/passkey/options")
    assertions = [key.get(asked, origin=idp.url, rp_id="127.0.0.1", count=5) for asked in (first, second)]
    cookies = browser.cookies.get_dict()

    answers = in_parallel(lambda: form_post(_with_cookies(cookies), page, f"{idp.url}/login/passkey",
                                            follow=False, credential=assertions.pop()), 2)

    assert sorted(a.status_code for a in answers) == [302, 400]
    assert idp.scalar("SELECT sign_count FROM passkeys WHERE credential_id = :id", id=key.id) == 5
