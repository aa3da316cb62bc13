"""Results as Markdown: the tables of ``bench/results/*.md`` and ``docs/performance.md``.

"Per vCPU" is the throughput divided by the server's busy cores (its workers' CPU seconds
over the wall seconds of the window): the load generator shares the machine's cores,
so dividing by ``nproc`` would charge the server for the generator's work too.
"""

from __future__ import annotations

from typing import Any

from bench import analysis, postgres, versus_report

LABELS = {"login": "Full Permanent Cl@ve login (5 requests)",
          "mobile_login": "Cl@ve mobile QR login (8 requests)", "refresh": "Refresh-token grant",
          "userinfo": "UserInfo", "introspection": "Introspection", "discovery": "Discovery document",
          "jwks": "JWKS"}


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def headline_run(results: dict[str, Any]) -> dict[str, Any]:
    return results["runs"][0]


def stage(run: dict[str, Any], workers: int) -> dict[str, Any] | None:
    return next((s for s in run["stages"] if s["workers"] == workers), None)


def limits_table(results: dict[str, Any]) -> str:
    start, end = results["limits"], results.get("limits_at_end") or results["limits"]
    params = start["argon2id_parameters"]

    def pair(key: str, digits: int = 0) -> str:
        return f"{_fmt(start[key], digits)} | {_fmt(end[key], digits)}"

    rows = [
        "| Limit (raw, same run) | At the start /s | At the end /s |", "|---|---:|---:|",
        f"| argon2id verifications on one core (m={params['memory_kib']} KiB, t={params['time_cost']}, "
        f"p={params['parallelism']}) | {pair('argon2id_verifications_per_s_per_core', 1)} |",
        f"| argon2id verifications on all {results['machine']['nproc']} vCPUs at once | "
        f"{pair('argon2id_verifications_per_s_all_cores', 1)} |",
        f"| ⇒ parallel speed-up of the vCPUs (1.0 = a second vCPU adds nothing) | "
        f"{pair('parallel_speedup', 2)} |",
        "| RS256 signatures on one core (RSA-2048, `cryptography`) | "
        f"{pair('rs256_signatures_per_s_per_core')} |",
        "| ES256 signatures on one core (P-256, `cryptography`) | "
        f"{pair('es256_signatures_per_s_per_core')} |",
    ]
    for label, floor in results["floors"].items():
        rows.append(f"| Serving floor: {label}, requests per busy vCPU | "
                    f"{_fmt(floor['per_server_vcpu'])} | |")
    return "\n".join(rows)


def firma_table(results: dict[str, Any]) -> str:
    """Cl@ve Firma in process (bench/firma.py): CPU per signature beside the raw signature."""
    firma = results.get("firma")
    if not firma:
        return "(not measured in this run)"
    rows = ["| Key | What is signed | Server CPU per signature, ms | Signatures /s per core | "
            "Raw signature /s per core | Fraction of limit |", "|---|---|---:|---:|---:|---:|"]
    for key_type in ("P-256", "RSA-3072"):
        figures = firma[key_type]
        raw = figures["raw_signature"]["per_core"]
        for what, label in (("pdf_1mb", f"PDF of {firma['pdf_bytes'] / 1048576:.0f} MB (PAdES)"),
                            ("digest", "SHA-256 digest (CAdES)")):
            row = figures[what]
            rows.append(f"| {key_type} | {label} | {_fmt(row['cpu_ms'], 1)} | {_fmt(row['per_core'], 1)} | "
                        f"{_fmt(raw)} | {row['fraction_of_limit']:.1%} |")
    first = ", ".join(f"{key_type} {_fmt(firma[key_type]['first_signature_cpu_ms'])} ms"
                      for key_type in ("P-256", "RSA-3072"))
    return "\n".join(rows) + ("\n\nA citizen's first signature also makes their key and certificate: "
                              f"{first} of CPU.")


def _runs(sat: dict[str, Any]) -> str:
    repeats = sat.get("repeats_throughput") or []
    return f" ({_fmt(repeats[0])}–{_fmt(repeats[-1])})" if len(repeats) > 1 else ""


def throughput_table(results: dict[str, Any]) -> str:
    run = headline_run(results)
    two = stage(run, 2)
    rows = ["| Flow | Throughput /s | Server CPU per op, ms | Cores busy | Per vCPU /s | Limit per core /s | "
            "Fraction of limit | Target per vCPU | Met |", "|---|---:|---:|---:|---:|---:|---:|---:|:-:|"]
    for name, entry in two["scenarios"].items():
        sat = entry["saturation"]
        limit = analysis.limit_for(name, results, run)
        fraction = (sat["per_server_vcpu"] / limit["per_core"]) if limit and sat["per_server_vcpu"] else None
        verdict = analysis.target_met(name, sat, fraction)
        cpu_ms = 1000 * sat["server_cpu_seconds"] / sat["completed"] if sat["completed"] else None
        limit_text = f"{_fmt(limit['per_core'], 1)} ({limit['what']})" if limit else "–"
        rows.append(f"| {LABELS[name]} | {_fmt(sat['throughput'], 1)}{_runs(sat)} | {_fmt(cpu_ms, 2)} | "
                    f"{sat['server_cores_busy']} | {_fmt(sat['per_server_vcpu'], 1)} | {limit_text} | "
                    f"{_pct(fraction)} | {analysis.TARGETS[name]['text']} | "
                    f"{'–' if verdict is None else 'yes' if verdict else '**no**'} |")
    return "\n".join(rows)


def latency_table(results: dict[str, Any]) -> str:
    two = stage(headline_run(results), 2)
    rows = ["| Flow | 50%: rate /s | p50 ms | p95 ms | p99 ms | 100%: rate /s | p50 ms | p95 ms | p99 ms | "
            "errors | p99 < 50 ms at 50% | 50%: p99 from send, ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|"]
    for name, entry in two["scenarios"].items():
        sat, half = entry["saturation"], entry.get("half")
        h = half["latency_ms"] if half else {}
        s = sat["latency_ms"]
        errors = sat["errors"] + (half["errors"] if half else 0)
        rows.append(f"| {LABELS[name]} | {_fmt(half['throughput'], 1) if half else '–'} | "
                    f"{h.get('p50', '–')} | {h.get('p95', '–')} | {h.get('p99', '–')} | "
                    f"{_fmt(sat['throughput'], 1)} | {s['p50']} | {s['p95']} | {s['p99']} | {errors} | "
                    f"{analysis.latency_verdict(name, half)} | "
                    f"{half.get('service_ms', {}).get('p99', '–') if half else '–'} |")
    return "\n".join(rows)


def _one_worker(results: dict[str, Any], base: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The 1-worker figures: the side-by-side run's (one pinned core), else an old 1-worker stage."""
    versus = results.get("versus", {}).get("flows")
    if versus:
        flows = {name: entries[base["database"]] for name, entries in versus.items()
                 if base["database"] in entries}
        return f"1 worker on one core, {base['citizens']:,} citizens", {"scenarios": flows}
    return f"1 worker, {base['citizens']:,} citizens", stage(base, 1)


def scaling_table(results: dict[str, Any]) -> str:
    base = headline_run(results)
    columns: list[tuple[str, dict[str, Any] | None]] = [
        _one_worker(results, base), (f"2 workers, {base['citizens']:,} citizens", stage(base, 2))]
    for run in results["runs"][1:]:
        columns.append((f"2 workers, {run['citizens']:,} citizens, {run['database']}", stage(run, 2)))
    larger = next((i for i, run in enumerate(results["runs"][1:], start=2)
                   if run["database"] == base["database"] and run["citizens"] > base["citizens"]), None)
    head = "| Flow | " + " | ".join(label for label, _ in columns) + " | 2 workers ÷ 1 worker |"
    if larger:
        head += f" {results['runs'][larger - 1]['citizens']:,} ÷ {base['citizens']:,} citizens |"
    rows = [head, "|---|" + "---:|" * (len(columns) + 1 + bool(larger))]
    for name in LABELS:
        cells, values = [], []
        for _, st in columns:
            sat = st["scenarios"].get(name, {}).get("saturation") if st else None
            values.append(sat["throughput"] if sat else None)
            cells.append(f"{_fmt(sat['throughput'], 1)} ({_fmt(sat['per_server_vcpu'])}/vCPU)"
                         if sat else "–")
        ratio = (values[1] / values[0]) if values[0] and values[1] else None
        row = f"| {LABELS[name]} | " + " | ".join(cells) + f" | {_fmt(ratio, 2)}× |"
        if larger:
            grown = values[larger] / values[1] if values[larger] and values[1] else None
            row += f" {_fmt(grown, 2)}× |"
        rows.append(row)
    return "\n".join(rows)


def databases_note(results: dict[str, Any]) -> str:
    """How each database was set up: the pool in every worker, PostgreSQL's own settings."""
    lines = []
    for run in results["runs"]:
        pool = run.get("pool_settings")
        if not pool:
            continue
        line = (f"* {run['database']}, {run['citizens']:,} citizens: SQLAlchemy {pool['pool']} of "
                f"{pool['pool_size']} connections + {pool['max_overflow']} overflow per worker process "
                f"({pool['threads_per_worker']} threads each), {pool['timeout_s']} s timeout, "
                f"{postgres.ping_text(pool)}")
        pg = run.get("postgres")
        if pg:
            shown = ", ".join(f"{k} {v}" for k, v in pg["settings"].items())
            line += f". PostgreSQL from {pg['origin']}: {shown}"
        lines.append(line + ".")
    return "\n".join(lines)


def memory_table(results: dict[str, Any]) -> str:
    rows = ["| Run | Workers | Peak RSS per worker (MB) | Target |", "|---|---:|---|---|"]
    for run in results["runs"]:
        for st in run["stages"]:
            peaks = st["memory"]["peak_rss_mb_per_worker"]
            met = "met" if st["memory"]["peak_rss_mb_max"] <= 120 else "**missed**"
            rows.append(f"| {run['database']}, {run['citizens']:,} citizens | {st['workers']} | "
                        f"{', '.join(_fmt(p, 1) for p in peaks)} | ≤ 120 MB: {met} |")
    return "\n".join(rows)


def storage_table(results: dict[str, Any]) -> str:
    rows = []
    for run in results["runs"]:
        growth = stage(run, 2)["scenarios"]["login"].get("database_growth", {})
        if not growth.get("sessions"):
            continue
        rows.append(f"\n{run['database']}, {run['citizens']:,} citizens: "
                    f"**{_fmt(growth['bytes_per_session'])} "
                    f"bytes per login session** ({growth['sessions']} sessions; target ≤ 2,048), "
                    f"{_fmt(analysis.without_audit(growth))} without the audit trail; the files grew by "
                    f"{_fmt(growth.get('file_growth_per_session'))} bytes per session in this run. "
                    f"Seeded database: {_fmt(run['database_bytes_after_seed'] / run['citizens'])} "
                    f"bytes per citizen.\n")
        rows += ["| Table | Rows per session | Bytes per row (with indexes) | Bytes per session |",
                 "|---|---:|---:|---:|"]
        rows += [f"| {table} | {v['rows_per_session']} | {_fmt(v.get('bytes_per_row'))} | "
                 f"{_fmt(v['bytes_per_session'])} |" for table, v in growth["by_table"].items()]
    return "\n".join(rows)


def queries_table(results: dict[str, Any]) -> str:
    counted = headline_run(results).get("queries_per_request")
    if not counted:
        return "(not counted)"
    rows = ["| Request | SQL statements | Commits | of which named | SELECT | INSERT | UPDATE | DELETE |",
            "|---|---:|---:|---|---:|---:|---:|---:|"]
    for request, c in counted.items():
        named = ", ".join(c.get("named_commits", ()))
        rows.append(f"| {request} | {c['statements']} | {c['commits']} | {named} | {c.get('select', '')} | "
                    f"{c.get('insert', '')} | {c.get('update', '')} | {c.get('delete', '')} |")
    return "\n".join(rows)


def profile_section(results: dict[str, Any]) -> str:
    two = stage(headline_run(results), 2)
    parts = []
    for name, entry in two["scenarios"].items():
        profile = entry.get("profile")
        if not profile or not profile.get("samples"):
            continue
        buckets = ", ".join(f"{bucket} {share:.0%}" for bucket, share in profile["buckets"].items()
                            if share >= 0.02)
        functions = ", ".join(f"`{fn.split(' (')[0]}` {share:.0%}"
                              for fn, share in list(profile["idp_functions_inclusive"].items())[:8])
        parts.append(f"* **{LABELS[name]}** ({profile['samples']} samples): {buckets}.  \n"
                     f"  Inclusive, in idp code: {functions}.")
    return "\n".join(parts) if parts else "(py-spy was not available: no profile)"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    run = headline_run(results)
    return "\n\n".join([
        f"### Clave IdP benchmark ({results['mode']}, {results['started_at']}, "
        f"{results['elapsed_seconds']} s)",
        f"Machine: {m['nproc']} vCPU {m['cpu_model']}, {m['ram_gib']} GiB RAM, Python {m['python']}. "
        f"Server: `idp serve` ({results.get('server', 'gunicorn')}, 4 threads per worker), "
        f"{run['database']}, {run['citizens']:,} citizens; "
        "load generator on the same machine over loopback.",
        limits_table(results),
        "Cl@ve Firma, signing core in process (one unit of work per signature, SQLite; HTTP not included):",
        firma_table(results),
        "Side by side with node-oidc-provider, one core each, same run:", versus_report.section(results),
        "Throughput at saturation, 2 workers:", throughput_table(results),
        "Latency at half of and at saturated throughput, 2 workers:", latency_table(results),
        "Scaling:", scaling_table(results), databases_note(results),
        "Memory:", memory_table(results),
        "Database per login session:", storage_table(results),
        "Queries per request:", queries_table(results),
        "Where the time of a request goes (py-spy, 2 workers, an extra run at half load):",
        profile_section(results),
        *[f"**Not measured, the run failed:** {failure}" for failure in results.get("failures", [])],
    ]) + "\n"


def performance_doc(results: dict[str, Any], tables: str, existing: str | None = None) -> str:
    """The whole of docs/performance.md; its hand-written notes (between markers) are kept."""
    return analysis.document(results, tables, existing)
