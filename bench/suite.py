"""The benchmark run: limits, serving floor, then each database × population × worker count.

Order inside a stage matters: logins issue the tokens that UserInfo, introspection and
(last, because it uses them up) the refresh grants need.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import load, machine, storage
from bench.deploy import Deployment
from bench.floor import FloorServer
from bench.profiling import Recording, py_spy
from bench.queries import count_per_request
from bench.scenarios import SCOPE, Get, Introspection, Login, MobileLogin, Refresh, Target, UserInfo
from bench.seed import seed
from bench.wire import SmsTail
from idp_mobile.device import DeviceKey

SCENARIOS = ("discovery", "jwks", "login", "mobile_login", "userinfo", "introspection", "refresh")


@dataclass(frozen=True)
class Plan:
    quick: bool
    warmup: float
    seconds: float
    limit_seconds: float
    populations: tuple[int, ...]
    pool: int
    half_with_one_worker: bool
    repeats: int  # saturated runs per figure; the median one is reported

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 0.3, 1.5, 1.0, (10_000,), 2_000, False, 1)
        return cls(False, 1.0, 5.0, 3.0, (10_000, 1_000_000), 5_000, True, 3)


def _scenario(name: str, target: Target) -> load.Scenario:
    if name == "discovery":
        return Get(target.host, target.port, name, "/.well-known/openid-configuration")
    if name == "jwks":
        return Get(target.host, target.port, name, "/jwks.json")
    return {"login": Login, "mobile_login": MobileLogin, "userinfo": UserInfo,
            "introspection": Introspection, "refresh": Refresh}[name](target)


def measure_floors(plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    floors = {}
    for label, app in (("gunicorn + trivial WSGI", "bench.floor:plain"),
                       ("gunicorn + Flask hello", "bench.floor:flask_app")):
        server = FloorServer(app, workers=2)
        try:
            result = load.saturate(Get("127.0.0.1", server.port, label, "/"), 4, plan.warmup,
                                   plan.seconds, server.cpu)
        finally:
            server.stop()
        floors[label] = result
        log(f"floor {label}: {result['throughput']}/s, {result['per_server_vcpu']}/s per busy vCPU")
    return floors


def _median_saturation(scenario: load.Scenario, concurrency: int, plan: Plan,
                       deployment: Deployment) -> dict[str, Any]:
    """The median of ``plan.repeats`` saturated runs: a virtual machine's neighbours come and go."""
    runs = sorted((load.saturate(scenario, concurrency, plan.warmup, plan.seconds,
                                 deployment.server_cpu_seconds) for _ in range(plan.repeats)),
                  key=lambda r: r["throughput"])
    median = runs[len(runs) // 2]
    median["repeats_throughput"] = [r["throughput"] for r in runs]
    return median


def run_stage(deployment: Deployment, target: Target, workers: int, plan: Plan, *, half: bool,
              profile_dir: Path | None, log: Callable[[str], None]) -> dict[str, Any]:
    deployment.start(workers)
    stage: dict[str, Any] = {"workers": workers, "scenarios": {}}
    try:
        for name in SCENARIOS:
            scenario = _scenario(name, target)
            if isinstance(scenario, Refresh):  # each thread of each run follows its own chain
                needed = 2 * workers * plan.repeats + (2 * max(4, 4 * workers) if half else 0)
                scenario.ensure_chains(needed, seconds=30)
            before = storage.snapshot(deployment.database_url) if name == "login" else None
            entry = {"saturation": _median_saturation(scenario, 2 * workers, plan, deployment)}
            if before is not None:
                entry["database_growth"] = storage.per_session(
                    before, storage.snapshot(deployment.database_url))
            rate = entry["saturation"]["throughput"] / 2
            if half and rate > 0:
                entry["half"] = load.open_loop(scenario, rate, max(4, 4 * workers), plan.warmup,
                                               plan.seconds, deployment.server_cpu_seconds)
                if profile_dir is not None:  # a run of its own: sampling must not touch the figures
                    recording = Recording(deployment.worker_pids(), plan.seconds, profile_dir,
                                          f"{workers}w-{name}")
                    load.open_loop(scenario, rate, max(4, 4 * workers), 0.0, plan.seconds,
                                   deployment.server_cpu_seconds)
                    entry["profile"] = recording.result()
            sat = entry["saturation"]
            log(f"  {workers}w {name:<13} {sat['throughput']:>8}/s  p99 {sat['latency_ms']['p99']} ms  "
                f"cores {sat['server_cores_busy']}  errors {sat['errors']}")
            stage["scenarios"][name] = entry
        stage["memory"] = deployment.memory()
    finally:
        deployment.stop()
    return stage


def _quiet_app(deployment: Deployment):  # type: ignore[no-untyped-def]
    from idp import create_app

    app = create_app(**deployment.settings())
    logging.getLogger("idp").setLevel(logging.WARNING)  # audit lines of the seeding itself
    return app


def run_database(label: str, url_for: Callable[[Path], str], population: int, plan: Plan,
                 out_dir: Path, log: Callable[[str], None], *, worker_counts: tuple[int, ...],
                 count_queries: bool, profile: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="clave-bench-") as tmp:
        base = Path(tmp)
        deployment = Deployment(base, url_for(base), log_dir=out_dir, label=f"{label}-{population}")
        deployment.init()
        client = deployment.create_client(SCOPE)
        app = _quiet_app(deployment)
        phone = DeviceKey.generate()  # the pool's Cl@ve apps: the generator signs their proofs
        seeded = seed(app, total=population, pool=min(plan.pool, population), client_id=client["client_id"],
                      scope=SCOPE, device_jwk=phone.public_jwk())
        seeded_snapshot = storage.snapshot(deployment.database_url)
        log(f"{label}: {population} citizens seeded in {seeded.seconds:.1f} s")
        sms = SmsTail(deployment.sms_file)
        result: dict[str, Any] = {
            "database": label, "citizens": population, "seed_seconds": round(seeded.seconds, 1),
            "database_bytes_after_seed": storage.total_bytes(seeded_snapshot),
            "login_pool": len(seeded.pool), "stages": []}
        if count_queries:
            result["queries_per_request"] = count_per_request(
                app, seeded.pool[-1], client["client_id"], client["client_secret"], sms, SCOPE, phone)
        from idp.extensions import db

        with app.app_context():
            db.engine.dispose()
        target = Target("127.0.0.1", deployment.port, client["client_id"], client["client_secret"],
                        sms, seeded.pool[:-1], device_key=phone)
        for index, workers in enumerate(worker_counts):
            half = index == 0 or plan.half_with_one_worker
            profile_dir = out_dir if (profile and index == 0 and py_spy()) else None
            result["stages"].append(run_stage(deployment, target, workers, plan, half=half,
                                              profile_dir=profile_dir, log=log))
        result["signatures_per_token_response"] = target.signatures_per_response
        return result


def run(quick: bool, out_dir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    plan = Plan.for_mode(quick)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "plan": plan.__dict__,
    }
    results["limits"] = machine.measure_limits(plan.limit_seconds)
    log(f"limits: {results['limits']}")
    results["floors"] = measure_floors(plan, log)
    runs, failures = [], []
    for index, population in enumerate(plan.populations):
        headline = index == 0
        try:
            runs.append(run_database(
                "sqlite", lambda base: f"sqlite:///{base / 'idp.sqlite3'}", population, plan,
                out_dir, log, worker_counts=(2, 1) if headline else (2,), count_queries=headline,
                profile=headline))
        except Exception as error:
            if headline:
                raise
            failures.append(f"sqlite, {population} citizens: {type(error).__name__}: {error}")
    postgres = os.environ.get("IDP_BENCH_DATABASE_URL")
    if postgres:
        try:
            runs.append(run_database("postgresql", lambda base: postgres, plan.populations[0], plan,
                                     out_dir, log, worker_counts=(2,), count_queries=True,
                                     profile=False))
        except Exception as error:  # an optional part: the SQLite figures still get written
            failures.append(f"postgresql: {type(error).__name__}: {error}")
    for failure in failures:
        log(f"FAILED {failure}")
    results["runs"], results["failures"] = runs, failures
    results["limits_at_end"] = machine.measure_limits(plan.limit_seconds)
    log(f"limits at the end: {results['limits_at_end']}")
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    return results
