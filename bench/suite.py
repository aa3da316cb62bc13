"""The benchmark run: limits and serving floor; the side-by-side run (our server on SQLite
and on PostgreSQL, and node-oidc-provider, one core each); then each database × population
with two workers.

Order inside a stage matters: logins issue the tokens that UserInfo, introspection and
(last, because it uses them up) the refresh grants need.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cores, firma, load, machine, peer, postgres, storage, versus
from bench.analysis import FLASK_FLOOR, PLAIN_FLOOR
from bench.deploy import LOW, Deployment
from bench.floor import FloorServer
from bench.profiling import Recording, py_spy
from bench.queries import count_per_request
from bench.scenarios import SCOPE, Get, Introspection, Login, MobileLogin, Refresh, Target, UserInfo
from bench.seed import seed
from bench.wire import SmsTail
from idp.serving import DEFAULT_SERVER
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
    repeats: int  # saturated runs per figure; the median one is reported
    versus_seconds: float  # each run of the side-by-side comparison (it has many)

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(True, 0.3, 1.5, 1.0, (10_000,), 2_000, 1, 1.5)
        return cls(False, 1.0, 5.0, 3.0, (10_000, 1_000_000), 5_000, 3, 4.0)


def _scenario(name: str, target: Target) -> load.Scenario:
    if name == "discovery":
        return Get(target.host, target.port, name, "/.well-known/openid-configuration")
    if name == "jwks":
        return Get(target.host, target.port, name, "/jwks.json")
    return {"login": Login, "mobile_login": MobileLogin, "userinfo": UserInfo,
            "introspection": Introspection, "refresh": Refresh}[name](target)


def measure_floors(plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    floors = {}
    for label, app in ((PLAIN_FLOOR, "plain"), (FLASK_FLOOR, "flask_app")):
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
    return load.median_run([load.saturate(scenario, concurrency, plan.warmup, plan.seconds,
                                          deployment.server_cpu_seconds) for _ in range(plan.repeats)])


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


def _sqlite(base: Path) -> str:
    return f"sqlite:///{base / 'idp.sqlite3'}"


def _quiet_app(deployment: Deployment):  # type: ignore[no-untyped-def]
    from idp import create_app

    app = create_app(**deployment.settings())
    logging.getLogger("idp").setLevel(logging.WARNING)  # audit lines of the seeding itself
    return app


@dataclass
class Prepared:
    """A seeded deployment (not serving yet), the targets of its two clients and its results."""

    label: str
    deployment: Deployment
    target: Target
    low_target: Target  # the client whose default level is low
    result: dict[str, Any]
    database_pid: int | None = None  # a PostgreSQL server on this machine


def prepare(stack: ExitStack, label: str, url_for: Callable[[Path], str], population: int, plan: Plan,
            out_dir: Path, log: Callable[[str], None], *, count_queries: bool) -> Prepared:
    """``idp init``, two clients (substantial and low), ``population`` citizens; removed when
    ``stack`` closes."""
    base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clave-bench-")))
    deployment = Deployment(base, url_for(base), log_dir=out_dir, label=f"{label}-{population}")
    deployment.init()
    client, low = deployment.create_client(SCOPE), deployment.create_client(SCOPE, LOW)
    app = _quiet_app(deployment)
    phone = DeviceKey.generate()  # the pool's Cl@ve apps: the generator signs their proofs
    seeded = seed(app, total=population, pool=min(plan.pool, population),
                  client_ids=[client["client_id"], low["client_id"]], scope=SCOPE,
                  device_jwk=phone.public_jwk())
    seeded_snapshot = storage.snapshot(deployment.database_url)
    log(f"{label}: {population} citizens seeded in {seeded.seconds:.1f} s")
    sms = SmsTail(deployment.sms_file)
    result: dict[str, Any] = {
        "database": label, "citizens": population, "seed_seconds": round(seeded.seconds, 1),
        "database_bytes_after_seed": storage.total_bytes(seeded_snapshot),
        "login_pool": len(seeded.pool), "pool_settings": postgres.pool_settings(app), "stages": []}
    if count_queries:
        result["queries_per_request"] = count_per_request(
            app, seeded.pool[-1], client["client_id"], client["client_secret"], sms, SCOPE, phone)
    from idp.extensions import db

    with app.app_context():
        db.engine.dispose()
    target = Target("127.0.0.1", deployment.port, client["client_id"], client["client_secret"],
                    sms, seeded.pool[:-1], device_key=phone)
    low_target = Target("127.0.0.1", deployment.port, low["client_id"], low["client_secret"], sms,
                        seeded.pool[:-1])
    return Prepared(label, deployment, target, low_target, result)


def run_matrix(prepared: Prepared, plan: Plan, log: Callable[[str], None], *, half: bool,
               profile_dir: Path | None) -> dict[str, Any]:
    """Two workers on all cores: every flow saturated (and at half load when ``half``)."""
    result = prepared.result
    result["stages"].append(run_stage(prepared.deployment, prepared.target, 2, plan, half=half,
                                      profile_dir=profile_dir, log=log))
    result["signatures_per_token_response"] = prepared.target.signatures_per_response
    return result


def prepare_postgres(stack: ExitStack, plan: Plan, out_dir: Path,
                     log: Callable[[str], None]) -> Prepared:
    """``IDP_BENCH_DATABASE_URL`` if set, else a throwaway cluster of our own."""
    url = os.environ.get("IDP_BENCH_DATABASE_URL")
    origin = "IDP_BENCH_DATABASE_URL"
    if not url:
        cluster = stack.enter_context(postgres.Cluster(out_dir / "postgres.log"))
        url = cluster.database("clave_bench")
        origin = "a throwaway cluster of scripts/with-postgres.sh, durability back on"
    prepared = prepare(stack, "postgresql", lambda base: url, plan.populations[0], plan, out_dir, log,
                       count_queries=True)
    prepared.result["postgres"] = {"origin": origin, "settings": postgres.server_settings(url)}
    prepared.database_pid = postgres.postmaster_pid(url)
    return prepared


LABELS = {"sqlite": "Clave IdP, SQLite", "postgresql": "Clave IdP, PostgreSQL"}


def side_by_side(prepared: list[Prepared], plan: Plan, out_dir: Path, log: Callable[[str], None], *,
                 peer_dir: str | None, server_cpus: str | None) -> dict[str, Any]:
    """Ours on each prepared database and the peer (when it can run), one core each."""
    split = cores.split(cores.available(), server_cpus) if shutil.which("taskset") else None
    contenders: list[versus.Contender] = [
        versus.Ours(p.label, LABELS[p.label], p.deployment, p.target, p.low_target,
                    notes={"database": p.label, "citizens": p.result["citizens"],
                           "pool_settings": p.result["pool_settings"]},
                    database_pid=p.database_pid) for p in prepared]
    installed = peer.install(peer.peer_dir(peer_dir), log)
    if isinstance(installed, peer.Installed):
        contenders.append(versus.Peer(peer.PeerServer(installed, out_dir)))
    else:
        log(f"peer not measured: {installed.reason}")
    compared = versus.run(contenders, repeats=plan.repeats, warmup=plan.warmup,
                          seconds=plan.versus_seconds, split=split, log=log)
    compared["peer"] = (compared["contenders"].get("peer") or compared.pop("absent", None)
                        or installed.describe())
    return compared


def run(quick: bool, out_dir: Path, log: Callable[[str], None] = print, *, peer_dir: str | None = None,
        server_cpus: str | None = None, with_postgres: bool = True) -> dict[str, Any]:
    plan = Plan.for_mode(quick)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(),
        "plan": plan.__dict__,
        "server": DEFAULT_SERVER,
    }
    results["limits"] = machine.measure_limits(plan.limit_seconds)
    log(f"limits: {results['limits']}")
    results["floors"] = measure_floors(plan, log)
    results["firma"] = firma.measure(plan.limit_seconds, log)
    runs, failures = [], []
    with ExitStack() as stack:
        headline = prepare(stack, "sqlite", _sqlite, plan.populations[0], plan, out_dir, log,
                           count_queries=True)
        pg = None
        if with_postgres:
            try:
                pg = prepare_postgres(stack, plan, out_dir, log)
            except Exception as error:  # an optional part: the SQLite figures still get written
                failures.append(f"postgresql: {type(error).__name__}: {error}")
        results["versus"] = side_by_side([headline, *([pg] if pg else [])], plan, out_dir, log,
                                         peer_dir=peer_dir, server_cpus=server_cpus)
        runs.append(run_matrix(headline, plan, log, half=True, profile_dir=out_dir if py_spy() else None))
        for population in plan.populations[1:]:
            try:
                with ExitStack() as own:
                    large = prepare(own, "sqlite", _sqlite, population, plan, out_dir, log,
                                    count_queries=False)
                    runs.append(run_matrix(large, plan, log, half=False, profile_dir=None))
            except Exception as error:
                failures.append(f"sqlite, {population} citizens: {type(error).__name__}: {error}")
        if pg:
            try:
                runs.append(run_matrix(pg, plan, log, half=False, profile_dir=None))
            except Exception as error:
                failures.append(f"postgresql: {type(error).__name__}: {error}")
    for failure in failures:
        log(f"FAILED {failure}")
    results["runs"], results["failures"] = runs, failures
    results["limits_at_end"] = machine.measure_limits(plan.limit_seconds)
    log(f"limits at the end: {results['limits_at_end']}")
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    return results
