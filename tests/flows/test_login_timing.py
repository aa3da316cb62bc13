"""An unknown document costs the same as a known one with a wrong password: one argon2
verification at the configured parameters in both cases."""

from __future__ import annotations

import time

import pytest

from idp.citizens import hasher
from tests.conftest import build_app, prepare_files
from tests.factories import make_citizen, new_dni
from tests.support.browser import submit

pytestmark = pytest.mark.xdist_group("timing")


@pytest.fixture
def real_cost_app(template_dir, tmp_path):  # type: ignore[no-untyped-def]
    """The production argon2id parameters (m=19 MiB, t=2), not the fast test ones."""
    prepare_files(template_dir, tmp_path)
    defaults = {"IDP_ARGON2_MEMORY_KIB": 19456, "IDP_ARGON2_TIME_COST": 2,
                "IDP_RATE_LIMITS": "login.ip=1000/60"}
    server, twin = build_app(tmp_path, **defaults), build_app(tmp_path, **defaults)
    with twin.test_request_context():
        yield server
    from idp.extensions import db

    for application in (server, twin):
        with application.app_context():
            db.engine.dispose()


class LoginForm:
    """The login page of one browser, submitted with a wrong password and timed."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.browser = app.test_client()
        self.page = self.browser.get("/login")

    def answer_time(self, document: str) -> float:
        """The CPU time this thread spent answering: the test client runs the request, and
        argon2 within it, in this thread, so other work on the machine does not count."""
        started = time.thread_time()
        self.page = submit(self.browser, self.page, "/login", document=document,
                           password="Mala-Clave-1")
        elapsed = time.thread_time() - started
        assert self.page.status_code == 401
        return elapsed


def test_unknown_document_runs_argon2_once_like_a_wrong_password(real_cost_app, monkeypatch):
    person = make_citizen()
    calls: list[str] = []
    with real_cost_app.app_context():
        server_hasher = hasher()
    original = server_hasher.verify
    monkeypatch.setattr(server_hasher, "verify", lambda *a: calls.append("v") or original(*a))
    form = LoginForm(real_cost_app)
    form.answer_time(new_dni())
    form.answer_time(person.document)
    assert calls == ["v", "v"]


def test_answer_times_for_unknown_and_known_documents_are_alike(real_cost_app):
    people = [make_citizen(), make_citizen()]  # 3 wrong passwords each: none gets blocked
    form = LoginForm(real_cost_app)
    form.answer_time(new_dni())  # warm up
    unknown, known = [], []
    for n in range(6):  # interleaved, so that both see the same load on the machine
        unknown.append(form.answer_time(new_dni()))
        known.append(form.answer_time(people[n % 2].document))
    # The fastest answer of each kind, in CPU time: both are dominated by one argon2 run; a
    # missing run would halve one of them.
    assert 0.6 < min(unknown) / min(known) < 1.6, (unknown, known)
