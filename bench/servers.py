"""The serving stack side by side: ``idp serve --server gunicorn`` and ``--server granian``,
one worker pinned to one core, the load generator pinned to another, the same scenarios
against both, interleaved (gunicorn, granian, gunicorn, granian…) so that a change in the
machine's load falls on both. Requests per second vary with what else runs; the server's
CPU time per request (read from ``/proc``) much less, so it decides which is faster."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.deploy import Deployment
from bench.load import open_loop, saturate
from bench.scenarios import SCOPE, Get, Login, Target, UserInfo
from bench.seed import seed
from bench.wire import SmsTail
from idp.serving import SERVERS

CONCURRENCY = 4  # the load generator's threads: as many as a worker's threads
LOGINS = 4  # per server start


def _cores() -> tuple[list[int] | None, set[int] | None]:
    """The server's core and the generator's: the first two this process may use."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return None, None
    return [allowed[0]], {allowed[1]}


def _scenarios(target: Target) -> list[Any]:
    host, port = target.host, target.port
    return [Get(host, port, "discovery", "/.well-known/openid-configuration"),
            Get(host, port, "jwks", "/jwks.json"),
            UserInfo(target),
            Get(host, port, "trivial route (/healthz)", "/healthz")]


def _measure(deployment: Deployment, target: Target, seconds: float, warmup: float) -> dict[str, Any]:
    figures = {}
    for scenario in _scenarios(target):
        full = saturate(scenario, CONCURRENCY, warmup, seconds, deployment.server_cpu_seconds)
        half = open_loop(scenario, max(full["throughput"] / 2, 1.0), CONCURRENCY, warmup, seconds,
                         deployment.server_cpu_seconds)
        figures[scenario.name] = {
            "throughput": full["throughput"], "errors": full["errors"] + half["errors"],
            "cpu_ms_per_request": round(1000 * full["server_cpu_seconds"] / full["completed"], 3)
            if full["completed"] else None,
            "p99_ms_at_half_load": half["latency_ms"]["p99"]}
    figures["memory"] = deployment.memory()
    return figures


def compare(quick: bool, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Each server measured ``rounds`` times, interleaved; the median of each figure."""
    seconds, warmup, rounds = (3.0, 1.0, 1) if quick else (10.0, 2.0, 3)
    server_core, generator_cores = _cores()
    previous = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory(prefix="clave-servers-") as tmp:
        deployment = Deployment(Path(tmp), f"sqlite:///{Path(tmp) / 'idp.sqlite3'}", label="servers",
                                cpus=server_core)
        deployment.init()
        client = deployment.create_client(SCOPE)
        from idp import create_app
        from idp_mobile.device import DeviceKey

        seeded = seed(create_app(**deployment.settings()), total=60, pool=50,
                      client_ids=[client["client_id"]], scope=SCOPE,
                      device_jwk=DeviceKey.generate().public_jwk())
        target = Target("127.0.0.1", deployment.port, client["client_id"], client["client_secret"],
                        SmsTail(deployment.sms_file), seeded.pool)
        runs: dict[str, list[dict[str, Any]]] = {server: [] for server in SERVERS}
        try:
            if generator_cores:
                os.sched_setaffinity(0, generator_cores)
            for round_index in range(rounds):
                for server in sorted(SERVERS, reverse=round_index % 2 == 1):
                    deployment.server = server
                    deployment.start(1)
                    try:
                        for _ in range(LOGINS):  # tokens for UserInfo; argon2id in the peak RSS
                            Login(target).run(None)
                        runs[server].append(_measure(deployment, target, seconds, warmup))
                    finally:
                        deployment.stop()
                    log(f"servers: {server} round {round_index + 1}: {runs[server][-1]}")
        finally:
            os.sched_setaffinity(0, previous)
    return {"pinned": server_core is not None, "seconds": seconds, "rounds": rounds,
            "servers": {server: _median(found) for server, found in runs.items()}}


def _median(found: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in found[0]:
        if name == "memory":
            merged[name] = {"peak_rss_mb_max": max(run[name]["peak_rss_mb_max"] for run in found)}
            continue
        merged[name] = {key: statistics.median(run[name][key] for run in found)
                        if key != "errors" else sum(run[name][key] for run in found)
                        for key in found[0][name] if found[0][name][key] is not None}
    return merged


def markdown(result: dict[str, Any]) -> str:
    servers = list(result["servers"])
    scenarios = [name for name in result["servers"][servers[0]] if name != "memory"]
    lines = ["## Serving stack: `idp serve --server …`, one worker"
             + (", pinned to one core; the load generator on another" if result["pinned"] else ""),
             "", "| request | " + " | ".join(
                 f"{server} req/s | {server} CPU ms/req | {server} p99 ms at half load"
                 for server in servers) + " |",
             "|---|" + "---:|" * (3 * len(servers))]
    for name in scenarios:
        cells = []
        for server in servers:
            row = result["servers"][server][name]
            cells += [f"{row['throughput']:,.0f}", f"{row.get('cpu_ms_per_request', 0):.3f}",
                      f"{row['p99_ms_at_half_load']:.1f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| peak RSS per worker, MB | " + " | ".join(
        f"{result['servers'][server]['memory']['peak_rss_mb_max']} | | " for server in servers) + "|")
    errors = {server: sum(row.get("errors", 0) for name, row in result["servers"][server].items()
                          if name != "memory") for server in servers}
    lines += ["", f"Median of {result['rounds']} interleaved round(s) of {result['seconds']:.0f} s per "
              f"request and server; errors: {errors}."]
    return "\n".join(lines) + "\n"
