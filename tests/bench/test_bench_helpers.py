"""The benchmark's own arithmetic and readers (the benchmark itself is ``make bench``)."""

from __future__ import annotations

import json

from bench.analysis import FLASK_FLOOR
from bench.cores import Split, parse_cpu_list
from bench.cores import split as cores_split
from bench.load import median_run, percentile
from bench.peer import FILES, install, node_major, working_copy
from bench.peerflow import interaction_uid, paths_from, reached_client
from bench.profiling import aggregate
from bench.report import databases_note
from bench.seed import dni
from bench.storage import per_session
from bench.versus import ratio
from bench.versus import run as versus_run
from bench.versus_report import login_cpu_outside_argon2, rows, section, side_by_side_table
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


def test_the_median_run_is_reported_with_every_run_lowest_first():
    runs = [{"throughput": 30.0}, {"throughput": 10.0}, {"throughput": 20.0}]
    median = median_run(runs)
    assert median["throughput"] == 20.0
    assert median["repeats_throughput"] == [10.0, 20.0, 30.0]
    assert "repeats_throughput" not in runs[2]


def test_ratio_to_the_peer_needs_both_figures():
    assert ratio(21.0, 42.0) == 0.5
    assert ratio(1360.0, 1360.0) == 1.0
    assert ratio(None, 42.0) is None
    assert ratio(21.0, None) is None
    assert ratio(21.0, 0.0) is None


def test_cpu_lists_read_as_taskset_writes_them():
    assert parse_cpu_list("0-2,5") == (0, 1, 2, 5)
    assert parse_cpu_list("1") == (1,)


def test_the_servers_get_the_last_core_and_the_generator_the_others():
    assert cores_split((0, 1)) == Split(server=(1,), generator=(0,))
    assert cores_split((0, 1, 2, 3), "2-3") == Split(server=(2, 3), generator=(0, 1))


def test_nothing_is_pinned_when_servers_and_generator_cannot_be_kept_apart():
    assert cores_split((0,)) is None
    assert cores_split((0, 1), "0-1") is None
    assert cores_split((0, 1), "4") is None


def test_node_versions_below_twenty_are_told_apart():
    assert node_major("v20.20.2") == 20
    assert node_major("v18.19.0\n") == 18
    assert node_major("not node") is None


def test_the_peer_without_its_files_is_reported_absent_with_the_reason(tmp_path):
    (tmp_path / "package.json").write_text("{}")
    absent = install(tmp_path)
    assert absent.describe()["status"] == "absent"
    assert "missing package-lock.json, server_argon2.mjs" in absent.reason
    assert "IDP_BENCH_PEER_DIR" in absent.reason


def test_the_peers_endpoints_come_from_its_discovery_document():
    paths = paths_from({"token_endpoint": "http://127.0.0.1:3300/token",
                        "userinfo_endpoint": "http://127.0.0.1:3300/me",
                        "introspection_endpoint": "http://127.0.0.1:3300/token/introspection"})
    assert (paths.token, paths.userinfo, paths.introspection) == ("/token", "/me", "/token/introspection")
    assert paths.redirect_uri == "http://127.0.0.1:9999/cb"


def test_the_peers_login_redirects_are_told_apart():
    assert interaction_uid("/interaction/sLZxAKlOHSZm-_2") == "sLZxAKlOHSZm-_2"
    assert interaction_uid("http://127.0.0.1:3300/auth/sLZxAKlOHSZm") is None
    assert interaction_uid("/interaction/abc/login") is None
    assert reached_client("http://127.0.0.1:9999/cb?code=K6e&state=s&iss=x")
    assert not reached_client("http://127.0.0.1:3300/auth/sLZxAKlOHSZm")
    assert not reached_client("http://127.0.0.1:9999/cbx?code=K6e")


def _versus_results(peer: dict | None) -> dict:
    def entry(throughput, cpu_seconds=1.0, completed=100, half_p99=2.0):
        return {"saturation": {"throughput": throughput, "repeats_throughput": [throughput * 0.9, throughput],
                               "per_server_vcpu": throughput, "server_cpu_seconds": cpu_seconds,
                               "completed": completed, "errors": 0, "server_cores_busy": 1.0,
                               "client_cores_busy": 0.5},
                "half": {"throughput": throughput / 2, "errors": 0,
                         "latency_ms": {"p50": 1.0, "p99": half_p99}, "service_ms": {"p99": half_p99}}}

    flows = {"userinfo": {"sqlite": entry(900.0, half_p99=12.0)},
             "login": {"sqlite": entry(20.0, cpu_seconds=1.0, completed=20)},
             "login_low": {"sqlite": entry(40.0, cpu_seconds=1.2, completed=40)}}
    contenders = {"sqlite": {"label": "Clave IdP, SQLite", "kind": "ours", "serve_args": [],
                             "citizens": 10_000, "pool_settings": {"pool": "QueuePool"},
                             "signatures_per_token_response": {"refresh_token": 1},
                             "memory": {"peak_rss_mb_max": 104.0}}}
    if peer:
        flows["userinfo"]["peer"] = entry(1800.0)
        flows["login"]["peer"] = entry(40.0)
        contenders["peer"] = {"label": "node-oidc-provider", "kind": "peer",
                              "memory": {"peak_rss_mb_max": 240.0}, **peer}
    return {"limits": {"argon2id_verifications_per_s_per_core": 50.0},
            "floors": {FLASK_FLOOR: {"per_server_vcpu": 1800.0}},
            "machine": {"nproc": 2},
            "versus": {"pinning": {"server_cpus": [1], "generator_cpus": [0]}, "concurrency": 4,
                       "repeats": 3, "seconds": 4.0, "flows": flows, "contenders": contenders,
                       "peer": peer or {"status": "absent", "reason": "Node.js v18.19.0 found"}}}


def test_side_by_side_rows_give_our_ratio_to_the_peer_beside_the_fraction_of_the_limit():
    results = _versus_results({"status": "measured", "oidc_provider": "9.13.3", "node": "v20.20.2",
                               "source": "/peer", "installed_in": "/peer"})
    by_flow = {row["flow"]: row for row in rows(results)}
    assert by_flow["userinfo"]["ratios"] == {"sqlite": 0.5}
    assert by_flow["userinfo"]["met"] is True
    assert by_flow["userinfo"]["fraction"] == 0.5  # 900 per busy vCPU over the 1,800/s Flask floor
    # Both our logins are compared with the peer's one login (it has no second factor).
    assert by_flow["login"]["ratios"] == {"sqlite": 0.5} and by_flow["login"]["met"] is False
    assert by_flow["login_low"]["ratios"] == {"sqlite": 1.0} and by_flow["login_low"]["met"] is True
    assert by_flow["login_low"]["fraction"] == 0.8  # argon2id: 50/s on one core
    table = side_by_side_table(results)
    assert "Fraction of limit (Clave IdP, SQLite) | Ratio to node-oidc-provider (Clave IdP, SQLite)" in table
    assert "| 0.50× | ≥ 0.5× | yes |" in table


def test_a_login_costs_its_cpu_minus_the_cpu_time_of_one_argon2id_verification():
    results = _versus_results(None)
    results["limits"]["argon2id_cpu_ms_per_verification"] = 20.0
    results["limits"]["argon2id_verifications_per_s_per_core"] = 40.0  # a busy machine's rate
    assert login_cpu_outside_argon2(results, "login_low", "sqlite") == 10.0  # 30 ms − 20 ms
    assert login_cpu_outside_argon2(results, "login", "sqlite") == 30.0


def test_without_the_peer_the_report_says_why_and_leaves_the_ratios_empty():
    results = _versus_results(None)
    assert all(row["ratios"] == {"sqlite": None} and row["met"] is None for row in rows(results))
    text = section(results)
    assert "**node-oidc-provider was not measured**: Node.js v18.19.0 found." in text
    assert "| 12.0 |" in text and "**no**" in text  # UserInfo's p99 at half load over 10 ms


def test_a_read_only_peer_is_installed_in_a_copy_under_the_users_cache(tmp_path, monkeypatch):
    source = tmp_path / "peer"
    source.mkdir()
    for name in FILES:
        (source / name).write_text(name)
    source.chmod(0o555)  # as the shared peer directory is: read-only even for root, by intent
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    try:
        copy = working_copy(source, "abc123")
    finally:
        source.chmod(0o755)
    assert copy == tmp_path / "cache" / "clave-bench" / "node-oidc-provider-abc123"
    assert sorted(p.name for p in copy.iterdir()) == sorted(FILES)
    assert sorted(p.name for p in source.iterdir()) == sorted(FILES)


def test_a_writable_peer_is_installed_in_place(tmp_path):
    assert working_copy(tmp_path, "abc123") == tmp_path


def test_the_report_names_the_pool_of_every_database_and_postgresqls_settings():
    pool = {"pool": "QueuePool", "pool_size": 5, "max_overflow": 10, "timeout_s": 30.0,
            "pre_ping": True, "threads_per_worker": 4}
    results = {"runs": [
        {"database": "sqlite", "citizens": 10_000, "pool_settings": {**pool, "pre_ping": False}},
        {"database": "postgresql", "citizens": 10_000, "pool_settings": pool,
         "postgres": {"origin": "a throwaway cluster",
                      "settings": {"fsync": "on", "synchronous_commit": "on"}}}]}
    note = databases_note(results)
    assert "sqlite, 10,000 citizens: SQLAlchemy QueuePool of 5 connections + 10 overflow per worker " \
           "process (4 threads each), 30.0 s timeout, pre-ping off." in note
    assert "PostgreSQL from a throwaway cluster: fsync on, synchronous_commit on." in note


class _FakeServer:
    def __init__(self, key, kind, fails=False):
        self.key, self.label, self.kind, self.flows = key, key, kind, {}
        self.fails, self.stopped = fails, False

    def start(self, cpus):
        if self.fails:
            raise RuntimeError("the peer exited with 1")

    def stop(self):
        self.stopped = True

    def cpu_seconds(self):
        return 0.0

    def memory(self):
        return {"peak_rss_mb_max": 1.0}

    def describe(self):
        return {"label": self.label, "kind": self.kind}


def test_a_peer_that_does_not_start_is_reported_absent_and_ours_is_still_measured():
    ours, peer = _FakeServer("sqlite", "ours"), _FakeServer("peer", "peer", fails=True)
    out = versus_run([ours, peer], repeats=1, warmup=0.0, seconds=0.0, split=None, log=lambda line: None)
    assert out["absent"] == {"status": "absent", "reason": "it did not start: the peer exited with 1"}
    assert list(out["contenders"]) == ["sqlite"]
    assert ours.stopped and not peer.stopped


def test_each_cl_ve_firma_signature_is_shown_beside_the_raw_signature_of_its_key():
    from bench.firma import one_megabyte_pdf
    from bench.report import firma_table

    def figures(pdf_ms: float, digest_ms: float, raw_ms: float) -> dict:
        return {"raw_signature": {"cpu_ms": raw_ms, "per_core": 1000 / raw_ms},
                "pdf_1mb": {"cpu_ms": pdf_ms, "per_core": 1000 / pdf_ms,
                            "fraction_of_limit": raw_ms / pdf_ms},
                "digest": {"cpu_ms": digest_ms, "per_core": 1000 / digest_ms,
                           "fraction_of_limit": raw_ms / digest_ms},
                "first_signature_cpu_ms": 30.0}

    table = firma_table({"firma": {"pdf_bytes": 1048576, "P-256": figures(40, 20, 0.025),
                                   "RSA-3072": figures(250, 125, 1.25)}})

    assert "| P-256 | PDF of 1 MB (PAdES) | 40.0 | 25.0 | 40,000 | 0.1% |" in table
    assert "| RSA-3072 | SHA-256 digest (CAdES) | 125.0 | 8.0 | 800 | 1.0% |" in table
    assert firma_table({}) == "(not measured in this run)"
    assert len(one_megabyte_pdf()) == 1048576
