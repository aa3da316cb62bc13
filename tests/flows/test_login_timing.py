"""An unknown document costs the same as a known one with a wrong password: one argon2
verification at the configured parameters in both cases."""

from __future__ import annotations

import statistics
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


def _answer_times(app, document: str, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    browser = app.test_client()
    page = browser.get("/login")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        page = submit(browser, page, "/login", document=document, password="Mala-Clave-1")
        times.append(time.perf_counter() - started)
        assert page.status_code == 401
    return times


def test_unknown_document_runs_argon2_once_like_a_wrong_password(real_cost_app, monkeypatch):
    person = make_citizen()
    calls: list[str] = []
    with real_cost_app.app_context():
        server_hasher = hasher()
    original = server_hasher.verify
    monkeypatch.setattr(server_hasher, "verify", lambda *a: calls.append("v") or original(*a))
    _answer_times(real_cost_app, new_dni(), 1)
    _answer_times(real_cost_app, person.document, 1)
    assert calls == ["v", "v"]


def test_answer_times_for_unknown_and_known_documents_are_alike(real_cost_app):
    person = make_citizen()
    _answer_times(real_cost_app, new_dni(), 2)  # warm up
    unknown = statistics.median(_answer_times(real_cost_app, new_dni(), 4))
    known = statistics.median(_answer_times(real_cost_app, person.document, 4))
    # Both are dominated by one argon2 run; a missing run would halve one of them.
    assert 0.6 < unknown / known < 1.6, (unknown, known)
