"""Guesses sent in parallel to several worker processes get no more tries than guesses sent
one after another: the rate-limit slot is taken before the secret is checked, and a right
secret is accepted only by an UPDATE that still finds it unblocked.

First the exact interleaving, in one process: another process blocks the secret while this
one checks it. Then real parallel requests against a server of four worker processes, with
a database of its own, so that the per-address limits these tests use up are theirs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import update

from idp import citizens, secrets
from idp.documents import parse_document
from idp.extensions import db
from idp.models import Citizen
from idp.settings import SETTINGS
from idp.sms import latest_code
from tests.factories import make_citizen, new_dni
from tests.support.live import active_citizen, form_post, register_citizen, start_idp

pytestmark = pytest.mark.xdist_group("guessing")
PASSWORD = "Muchos-Intentos-2026!"
WRONG = "Mala-Clave-1234!"
EMAIL = "lucia@example.org"
DOCUMENT_LIMIT = 10  # login.document and activation.document in the default IDP_RATE_LIMITS
# The SMS-code page or a next step, a refusal, or the rate limit; never a 500.
ANSWERS = {200, 302, 400, 401, 429}


def meanwhile(citizen_id: int, **values: object) -> None:
    """What another process commits while this one is checking a secret."""
    with db.engine.begin() as other:
        other.execute(update(Citizen).where(Citizen.id == citizen_id).values(**values))


def test_a_right_password_is_refused_when_another_attempt_blocks_it_during_the_check(app, monkeypatch):
    person = make_citizen()
    citizen = citizens.find(parse_document(person.document))
    assert citizen is not None
    check = citizens.hasher().verify

    def blocked_meanwhile(stored: str, password: str) -> bool:
        meanwhile(citizen.id, password_failures=5, password_blocked=True)
        return check(stored, password)

    monkeypatch.setattr(citizens.hasher(), "verify", blocked_meanwhile)
    assert citizens.verify_password(citizen, person.password) == citizens.PasswordCheck.BLOCKED


def test_a_right_activation_code_is_refused_when_another_attempt_blocks_it_during_the_check(
        app, monkeypatch):
    person = make_citizen(active=False)
    citizen = citizens.find(parse_document(person.document))
    assert citizen is not None
    check = secrets.matches

    def blocked_meanwhile(*args: str) -> bool:
        meanwhile(citizen.id, activation_failures=5, activation_code_blocked=True)
        return check(*args)

    monkeypatch.setattr(secrets, "matches", blocked_meanwhile)
    assert citizens.verify_activation_code(citizen, person.activation_code) == citizens.CodeCheck.BLOCKED


@pytest.fixture(scope="module")
def idp(tmp_path_factory):  # type: ignore[no-untyped-def]
    # argon2id as shipped: a check as long as in production leaves the others the same
    # time to block the password meanwhile.
    shipped = {name: str(setting.default) for setting in SETTINGS
               if (name := setting.name).startswith("IDP_ARGON2_")}
    server = start_idp(tmp_path_factory.mktemp("guessing"), workers=4, **shipped)
    yield server
    server.stop()


def post_in_parallel(idp, path: str, forms: list[dict[str, str]]) -> list[requests.Response]:  # type: ignore[no-untyped-def]
    """Every form from its own browser, the pages fetched first so that only the posts race."""
    browsers = [requests.Session() for _ in forms]
    pages = [browser.get(f"{idp.url}{path}", timeout=10) for browser in browsers]
    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        return list(pool.map(lambda n: form_post(browsers[n], pages[n], f"{idp.url}{path}",
                                                 follow=False, **forms[n]), range(len(forms))))


def events(idp, document: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The citizen's audit tags, in the order they were written."""
    return [tag for (tag,) in idp.query(
        "SELECT a.tag FROM audit_events a JOIN citizens c ON c.id = a.citizen_id "
        "WHERE c.document = :document ORDER BY a.id", document=document)]


def counters(idp, document: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    (row,) = idp.query("SELECT password_failures, password_blocked, activation_failures, "
                       "activation_code_blocked FROM citizens WHERE document = :document",
                       document=document)
    return dict(zip(("password_failures", "password_blocked", "activation_failures",
                     "activation_code_blocked"), map(int, row), strict=True))


def accepted(answer: requests.Response) -> bool:
    return answer.status_code == 200 and 'name="otp"' in answer.text  # the SMS-code page


def test_parallel_guesses_never_verify_more_passwords_than_the_limit(idp):
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    answers = post_in_parallel(idp, "/login", [{"document": document, "password": WRONG}] * 15
                               + [{"document": document, "password": PASSWORD}])
    assert {answer.status_code for answer in answers} <= ANSWERS
    assert events(idp, document).count("login_failed") <= DOCUMENT_LIMIT
    assert sum(answer.status_code == 429 for answer in answers) >= 16 - DOCUMENT_LIMIT - 1
    shown = counters(idp, document)
    assert shown["password_blocked"] == 1 and shown["password_failures"] == 5


def test_a_right_password_racing_the_blocking_guesses_is_never_accepted_after_the_block(idp):
    # One wrong password first, then the four that block it race the right one. Were the
    # right one accepted before the block, it would reset the count and four wrong ones
    # could no longer block: accepted and blocked together means accepted after the block.
    # Three rounds, because one race may well be won by the right password; each starts
    # with a fresh count and fresh limits.
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    for _ in range(3):
        idp.execute("UPDATE citizens SET password_failures = 0, password_blocked = false "
                    "WHERE document = :document", document=document)
        idp.execute("DELETE FROM rate_counters")
        first = post_in_parallel(idp, "/login", [{"document": document, "password": WRONG}])
        assert first[0].status_code == 401
        answers = post_in_parallel(idp, "/login", [{"document": document, "password": WRONG}] * 4
                                   + [{"document": document, "password": PASSWORD}])
        assert {answer.status_code for answer in answers} <= ANSWERS
        assert accepted(answers[-1]) != bool(counters(idp, document)["password_blocked"])


def test_a_right_activation_code_racing_wrong_ones_is_never_accepted_after_the_block(idp):
    document = new_dni()
    code = register_citizen(idp, document, PASSWORD)
    wrong = "BBBB-BBBB-BBBB-BBBB"  # B is not in the alphabet of codes
    answers = post_in_parallel(idp, "/activate", [{"document": document, "email": EMAIL,
                                                   "activation_code": wrong}] * 15
                               + [{"document": document, "email": EMAIL, "activation_code": code}])
    assert {answer.status_code for answer in answers} <= ANSWERS
    assert sum(answer.status_code == 429 for answer in answers) >= 16 - DOCUMENT_LIMIT - 1
    shown = counters(idp, document)
    assert shown["activation_code_blocked"] == 1 and shown["activation_failures"] == 5
    trail = events(idp, document)
    assert trail.count("activation_code_failed") == 5 and trail.count("activation_code_blocked") == 1
    if "activation_started" in trail:
        assert trail.index("activation_started") < trail.index("activation_code_blocked")


def test_parallel_wrong_sms_codes_all_count_towards_restarting_the_unsubscription(idp):
    document = new_dni()
    active_citizen(idp, document, PASSWORD)
    browser = requests.Session()
    page = browser.get(f"{idp.url}/unsubscribe", timeout=10)
    otp_page = form_post(browser, page, f"{idp.url}/unsubscribe", document=document, password=PASSWORD)
    right = latest_code(idp.sms_file)
    wrong = [f"{(int(right) + n) % 1000000:06d}" for n in range(1, 13)]
    with ThreadPoolExecutor(max_workers=len(wrong)) as pool:
        answers = list(pool.map(lambda code: form_post(
            browser, otp_page, f"{idp.url}/unsubscribe/otp", follow=False, otp=code), wrong))
    # A wrong code, the restart, or a flow already ended by a parallel request.
    assert {answer.status_code for answer in answers} <= {302, 400}
    assert any("restarted=1" in answer.headers.get("Location", "") for answer in answers)
    assert browser.get(f"{idp.url}/unsubscribe/otp", timeout=10).status_code == 400
