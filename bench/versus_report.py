"""The side-by-side section of the report: ours and node-oidc-provider, one core each."""

from __future__ import annotations

from typing import Any

from bench import analysis, postgres
from bench.versus import PEER_FLOW, ratio

LABELS = {
    "discovery": "Discovery document",
    "jwks": "JWKS",
    "login": "Full login, password + SMS code (ours 5 requests; the peer: password only, 6)",
    "login_low": "Full login, password only (ours at level low, 4 requests; the peer 6)",
    "userinfo": "UserInfo",
    "refresh": "Refresh-token grant (rotating)",
}
# Issue 14's figures to reach: our throughput over the peer's, one core each.
TARGET_RATIO = {"discovery": 1.0, "jwks": 1.0, "login": 0.8, "login_low": 0.8, "userinfo": 0.5,
                "refresh": 0.5}
LOGINS = ("login", "login_low")
P99_TARGET_MS = 10.0
PEAK_RSS_TARGET_MB = 120
GENERATOR_BOUND = 0.9  # of the generator's cores busy: the figure may be the generator's
SERVER_BUSY = 0.8  # of the server's cores busy at saturation, or it was not the limit


def _fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _with_range(sat: dict[str, Any] | None) -> str:
    if not sat:
        return "–"
    repeats = sat.get("repeats_throughput") or []
    spread = f" ({_fmt(repeats[0])}–{_fmt(repeats[-1])})" if len(repeats) > 1 else ""
    return f"{_fmt(sat['throughput'], 1)}{spread}"


def ours(versus: dict[str, Any]) -> list[str]:
    """Our contenders' keys, the headline (SQLite) first."""
    return [key for key, c in versus["contenders"].items() if c.get("kind") == "ours"]


def peer_measured(versus: dict[str, Any]) -> bool:
    return versus.get("peer", {}).get("status") == "measured"


def _saturation(versus: dict[str, Any], flow: str, key: str) -> dict[str, Any] | None:
    entry = versus["flows"].get(flow, {}).get(key)
    return entry["saturation"] if entry else None


def throughput(versus: dict[str, Any], flow: str, key: str) -> float | None:
    sat = _saturation(versus, flow, key)
    return sat["throughput"] if sat else None


def fraction_of_limit(results: dict[str, Any], flow: str, key: str) -> tuple[float | None, str]:
    """Throughput per busy core over the flow's raw limit on one core, and what that limit is."""
    versus = results["versus"]
    sat = _saturation(versus, flow, key)
    signatures = versus["contenders"][key].get("signatures_per_token_response", {})
    limit = analysis.limit_for("login" if flow in LOGINS else flow, results,
                               {"signatures_per_token_response": signatures})
    if not sat or not limit or not sat.get("per_server_vcpu"):
        return None, limit["what"] if limit else "–"
    return sat["per_server_vcpu"] / limit["per_core"], limit["what"]


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per flow: each contender's throughput and our ratios to the peer."""
    versus = results["versus"]
    keys = ours(versus)
    out = []
    for flow in LABELS:
        if flow not in versus["flows"]:
            continue
        peer = throughput(versus, PEER_FLOW[flow], "peer")
        headline = throughput(versus, flow, keys[0]) if keys else None
        fraction, limit = fraction_of_limit(results, flow, keys[0]) if keys else (None, "–")
        first_ratio = ratio(headline, peer)
        out.append({
            "flow": flow, "peer": peer, "fraction": fraction, "limit": limit,
            "ours": {key: throughput(versus, flow, key) for key in keys},
            "ratios": {key: ratio(throughput(versus, flow, key), peer) for key in keys},
            "target": TARGET_RATIO[flow],
            "met": None if first_ratio is None else first_ratio >= TARGET_RATIO[flow],
        })
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def side_by_side_table(results: dict[str, Any]) -> str:
    versus = results["versus"]
    keys = ours(versus)
    labels = [versus["contenders"][k]["label"] for k in keys]
    head = (["Flow", *[f"{label} /s" for label in labels], "node-oidc-provider /s",
             f"Fraction of limit ({labels[0]})" if labels else "Fraction of limit",
             *[f"Ratio to node-oidc-provider ({label})" for label in labels], "Target ratio", "Met"])
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + ":-:|"]
    for row in rows(results):
        flow = row["flow"]
        peer_sat = _saturation(versus, PEER_FLOW[flow], "peer")
        met = "–" if row["met"] is None else "yes" if row["met"] else "**no**"
        cells = [LABELS[flow], *[_with_range(_saturation(versus, flow, k)) for k in keys],
                 _with_range(peer_sat), f"{_pct(row['fraction'])} ({row['limit']})",
                 *[f"{_fmt(row['ratios'][k], 2)}×" if row["ratios"][k] else "–" for k in keys],
                 f"≥ {row['target']:.1f}×", met]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(results: dict[str, Any]) -> str:
    """Per flow and server: CPU per operation, and latencies at half of its own saturated rate."""
    versus = results["versus"]
    lines = ["| Flow | Server | Server CPU per op, ms | Cores busy | 50%: rate /s | p50 ms | p99 ms | "
             "p99 from send, ms | Errors | p99 < 10 ms |", "|---|---|---:|---:|---:|---:|---:|---:|---:|:-:|"]
    for flow in LABELS:
        for key, entry in versus["flows"].get(flow, {}).items():
            sat, half = entry["saturation"], entry.get("half") or {}
            cpu = 1000 * sat["server_cpu_seconds"] / sat["completed"] if sat["completed"] else None
            p99 = half.get("latency_ms", {}).get("p99")
            verdict = ("(not a target)" if flow in LOGINS or versus["contenders"][key]["kind"] != "ours"
                       else "–" if p99 is None else "yes" if p99 < P99_TARGET_MS else "**no**")
            errors = sat["errors"] + half.get("errors", 0)
            lines.append(
                f"| {LABELS[flow].split(' (')[0]} | {versus['contenders'][key]['label']} | {_fmt(cpu, 2)} | "
                f"{sat['server_cores_busy']} | {_fmt(half.get('throughput'), 1)} | "
                f"{half.get('latency_ms', {}).get('p50', '–')} | {_fmt(p99, 2)} | "
                f"{half.get('service_ms', {}).get('p99', '–')} | {errors} | {verdict} |")
    return "\n".join(lines)


def memory_table(results: dict[str, Any]) -> str:
    lines = ["| Server (one core) | Peak RSS (MB) | Target |", "|---|---:|---|"]
    for c in results["versus"]["contenders"].values():
        peak = c.get("memory", {}).get("peak_rss_mb_max")
        target = ("(none: the peer)" if c["kind"] != "ours" else
                  f"≤ {PEAK_RSS_TARGET_MB} MB per worker: "
                  f"{'met' if peak is not None and peak <= PEAK_RSS_TARGET_MB else '**missed**'}")
        lines.append(f"| {c['label']} | {_fmt(peak, 1)} | {target} |")
    return "\n".join(lines)


def login_cpu_outside_argon2(results: dict[str, Any], flow: str, key: str) -> float | None:
    """Server CPU of a login beyond its one argon2id verification (CPU time, measured in the
    same run), in ms."""
    entry = results["versus"]["flows"].get(flow, {}).get(key)
    if not entry or not entry["saturation"]["completed"]:
        return None
    sat = entry["saturation"]
    limits = results["limits"]
    argon2_ms = (limits.get("argon2id_cpu_ms_per_verification")  # older results: from the rate
                 or 1000 / limits["argon2id_verifications_per_s_per_core"])
    return 1000 * sat["server_cpu_seconds"] / sat["completed"] - argon2_ms


def not_server_bound(results: dict[str, Any]) -> list[str]:
    """The figures that may say more about the load generator or the machine than about the
    server: the server's core was not kept busy, or the generator's were."""
    versus = results["versus"]
    pinning = versus.get("pinning") or {}
    nproc = results["machine"]["nproc"]
    generator = len(pinning.get("generator_cpus") or []) or nproc
    server = len(pinning.get("server_cpus") or []) or nproc
    found = []
    for flow, entries in versus["flows"].items():
        for key, entry in entries.items():
            sat = entry["saturation"]
            what = f"{versus['contenders'][key]['label']}, {LABELS[flow].split(' (')[0]}"
            if not sat["completed"]:
                found.append(f"{what} (none finished inside the run: one takes longer under this load)")
            elif (sat.get("client_cores_busy") or 0) >= GENERATOR_BOUND * generator:
                found.append(f"{what} (generator busy {sat['client_cores_busy']:.2f} of {generator})")
            elif sat["server_cores_busy"] < SERVER_BUSY * server:
                found.append(f"{what} (server busy {sat['server_cores_busy']:.2f} of {server})")
    return found


def _pool(settings: dict[str, Any]) -> str:
    return (f"{settings.get('pool')} of {settings.get('pool_size')} connections + "
            f"{settings.get('max_overflow')} overflow, {settings.get('timeout_s')} s timeout, "
            f"{postgres.ping_text(settings)}, per worker process "
            f"({settings.get('threads_per_worker')} threads each)")


def notes(results: dict[str, Any]) -> list[str]:
    versus = results["versus"]
    pinning = versus.get("pinning")
    where = (f"Each server runs on core {', '.join(map(str, pinning['server_cpus']))} (`taskset`), the "
             f"load generator on core {', '.join(map(str, pinning['generator_cpus']))}" if pinning else
             "**Not pinned** (a single core, or no `taskset`): servers and generator share the cores")
    logins = versus.get("login_concurrency", versus["concurrency"])
    out = [f"{where}; {versus['concurrency']} connections at once ({logins} for logins); "
           f"{versus['repeats']} saturated run(s) of {versus['seconds']} s per server and flow, taken "
           "in turns; the median is shown, with the range of the runs."]
    peer = versus.get("peer", {})
    if peer.get("status") == "measured":
        out.append(f"node-oidc-provider {peer['oidc_provider']} on Node.js {peer['node']}, one process, "
                   f"argon2id at our parameters, everything in memory (a lower bound for any deployment "
                   f"that persists); from `{peer['source']}`, installed in `{peer['installed_in']}`.")
    else:
        out.append(f"**node-oidc-provider was not measured**: {peer.get('reason', 'unknown reason')}. "
                   "The ratios are left empty.")
    for key in ours(versus):
        c = versus["contenders"][key]
        low, full = (login_cpu_outside_argon2(results, f, key) for f in ("login_low", "login"))
        command = " ".join(["idp serve --workers 1", *c["serve_args"]])
        out.append(f"{c['label']}: `{command}`, "
                   f"{c['citizens']:,} citizens; SQLAlchemy pool: {_pool(c['pool_settings'])}. "
                   f"A login's server CPU outside argon2id: {_fmt(low, 1)} ms password only, "
                   f"{_fmt(full, 1)} ms with the SMS step (target ≤ 10 ms)."
                   + (" The PostgreSQL server is pinned with it and its CPU counted as the server's."
                      if c.get("database_pinned_with_server") else ""))
    bound = not_server_bound(results)
    if bound:
        out.append("**Cores not kept busy** at saturation, in cores: " + "; ".join(bound) + ". Where "
                   "the generator was busy, the figure may be what it could send; where the server "
                   "was not, its time went to waits (disk, locks), to a generator that did not keep "
                   "up, or to another process on the same core.")
    return out


def section(results: dict[str, Any]) -> str:
    if "versus" not in results:
        return "(no side-by-side run in these results)"
    return "\n\n".join([
        side_by_side_table(results),
        "\n".join(f"* {note}" for note in notes(results)),
        "Server CPU and latency at half of each server's own saturated rate, one core each:",
        detail_table(results),
        memory_table(results),
    ])
