"""The benchmark's own arithmetic and readers (the benchmark itself is ``make bench``)."""

from __future__ import annotations

import json

from bench.load import percentile
from bench.profiling import aggregate
from bench.seed import dni
from bench.storage import per_session
from bench.wire import SmsTail
from idp.documents import parse_document


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 99) == 0.0


def test_seeded_documents_are_valid_dnis():
    for index in (0, 1, 999_999):
        assert parse_document(dni(index)).number == dni(index)


def test_database_cost_of_a_session_is_the_growth_per_new_login_session():
    before = {"login_sessions": {"bytes": 4000, "rows": 10}, "tokens": {"bytes": 4000, "rows": 10},
              "citizens": {"bytes": 8192, "rows": 5}}
    after = {"login_sessions": {"bytes": 7000, "rows": 20}, "tokens": {"bytes": 10000, "rows": 30},
             "citizens": {"bytes": 8192, "rows": 5}}
    growth = per_session(before, after)
    assert growth["sessions"] == 10
    assert growth["by_table"]["tokens"] == {"rows_per_session": 2.0, "bytes_per_row": 300,
                                            "bytes_per_session": 600}
    assert "citizens" not in growth["by_table"]
    assert growth["bytes_per_session"] == 300 + 600


def test_profile_samples_outside_a_request_are_left_out():
    lines = ["run (gunicorn/arbiter.py:1);wait (gunicorn/workers/sync.py:2) 90",
             "Flask.__call__ (flask/app.py:1);verify (argon2/_password_hasher.py:3) 6",
             "Flask.__call__ (flask/app.py:1);view (idp/flows/login.py:9);do_commit "
             "(sqlalchemy/engine/default.py:954) 4"]
    profile = aggregate(lines)
    assert profile["samples"] == 10
    assert profile["buckets"]["argon2id hashing"] == 0.6
    assert profile["idp_functions_inclusive"] == {"view (idp/flows/login.py)": 0.4}


def test_sms_tail_hands_out_each_code_once_and_waits_for_whole_lines(tmp_path):
    path = tmp_path / "sms.jsonl"
    tail = SmsTail(path)
    assert tail.take("+34600000001") is None
    line = json.dumps({"to": "+34600000001", "text": "Cl@ve: 123456.", "sent_at": "x"})
    path.write_text(line[:20])
    assert tail.take("+34600000001") is None
    path.write_text(line + "\n")
    assert tail.take("+34600000001") == "123456"
    assert tail.take("+34600000001") is None
