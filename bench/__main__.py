"""``python -m bench run [--quick]`` (what ``make bench`` / ``make bench-quick`` call) and
``python -m bench seed`` (bulk citizens into the database the ``IDP_*`` environment names);
``python -m bench report RESULTS.json`` rewrites the Markdown from a run's figures;
``python -m bench servers [--quick]`` compares the serving stacks (granian, gunicorn);
``python -m bench logincpu`` measures a login's CPU outside argon2id, request by request;
``python -m bench tokencpu`` the token paths' (UserInfo, introspection, refresh, revocation)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _write_doc(render, results: dict, markdown: str) -> None:  # type: ignore[no-untyped-def]
    path = ROOT / "docs" / "performance.md"
    existing = path.read_text() if path.exists() else None
    path.write_text(render(results, markdown, existing))


def _run(args: argparse.Namespace) -> int:
    from bench import report, suite

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = suite.run(args.quick, out_dir, log=lambda line: print(line, flush=True),
                        peer_dir=args.peer_dir, server_cpus=args.server_cpus,
                        with_postgres=not args.no_postgres)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    markdown = report.markdown(results)
    for name in (f"bench-{results['mode']}-{stamp}", f"latest-{results['mode']}"):
        (out_dir / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
        (out_dir / f"{name}.md").write_text(markdown)
    if not args.no_docs:
        _write_doc(report.performance_doc, results, markdown)
    print(f"\n{markdown}\nWritten to {out_dir}/latest-{results['mode']}.{{json,md}}"
          + ("" if args.no_docs else " and docs/performance.md")
          + f" in {results['elapsed_seconds']} s.")
    return 0


def _report(args: argparse.Namespace) -> int:
    from bench import report

    results = json.loads(Path(args.results).read_text())
    markdown = report.markdown(results)
    Path(args.results).with_suffix(".md").write_text(markdown)
    if not args.no_docs:
        _write_doc(report.performance_doc, results, markdown)
    print(markdown)
    return 0


def _servers(args: argparse.Namespace) -> int:
    from bench import servers

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = servers.compare(args.quick, log=lambda line: print(line, flush=True))
    markdown = servers.markdown(result)
    name = f"servers-{'quick' if args.quick else 'full'}"
    (out_dir / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(markdown)
    print(f"\n{markdown}\nWritten to {out_dir}/{name}.{{json,md}}.")
    return 0


def _logincpu(args: argparse.Namespace) -> int:
    from bench import instructions, logincpu

    if args.instructions:
        result = instructions.measure(args.logins)
        markdown = instructions.markdown(result)
    else:
        result = logincpu.measure(args.logins, args.profile)
        markdown = logincpu.markdown(result)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown)
    return 0


def _tokencpu(args: argparse.Namespace) -> int:
    from bench import instructions, tokencpu

    if args.instructions:
        result = instructions.measure_tokens(args.requests, args.revocations)
        markdown = "\n".join(f"| `{name}` | {count / 1e6:.2f} M |"
                             for name, count in result["per_request"].items())
    else:
        result = tokencpu.measure(args.requests, args.revocations)
        markdown = tokencpu.markdown(result)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown)
    return 0


def _seed(args: argparse.Namespace) -> int:
    from bench.seed import seed
    from idp import create_app
    from idp_mobile.device import DeviceKey

    app = create_app()
    logging.getLogger("idp").setLevel(logging.WARNING)
    device = DeviceKey.generate()
    device.save(args.device_key)
    done = seed(app, total=args.citizens, pool=min(args.pool, args.citizens),
                client_ids=[args.client_id], scope=args.scope, device_jwk=device.public_jwk())
    print(f"{done.citizens} citizens in {done.seconds:.1f} s "
          f"({done.citizens / done.seconds:,.0f}/s); {len(done.pool)} consented to {args.client_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmark, write bench/results and docs/performance.md")
    run.add_argument("--quick", action="store_true", help="about a minute: 10k citizens, short runs")
    run.add_argument("--out", default=str(ROOT / "bench" / "results"))
    run.add_argument("--no-docs", action="store_true", help="leave docs/performance.md alone")
    run.add_argument("--peer-dir", default=os.environ.get("IDP_BENCH_PEER_DIR"),
                     help="node-oidc-provider's directory (default ../shared/peers/node-oidc-provider "
                          "beside the repository; env IDP_BENCH_PEER_DIR)")
    run.add_argument("--server-cpus", default=os.environ.get("IDP_BENCH_SERVER_CPUS"),
                     help="cores of each server in the side-by-side run, taskset syntax (default: "
                          "the last core; the load generator keeps the others; env IDP_BENCH_SERVER_CPUS)")
    run.add_argument("--no-postgres", action="store_true",
                     help="no PostgreSQL figures (by default: IDP_BENCH_DATABASE_URL, else a "
                          "throwaway cluster when the server binaries are installed)")
    run.set_defaults(handler=_run)
    again = commands.add_parser("report", help="rewrite the Markdown (and docs) from a results JSON")
    again.add_argument("results")
    again.add_argument("--no-docs", action="store_true")
    again.set_defaults(handler=_report)
    stacks = commands.add_parser("servers", help="granian against gunicorn, one pinned core each")
    stacks.add_argument("--quick", action="store_true", help="one short round")
    stacks.add_argument("--out", default=str(ROOT / "bench" / "results"))
    stacks.set_defaults(handler=_servers)
    cpu = commands.add_parser("logincpu", help="a login's CPU outside argon2id per request, in process")
    cpu.add_argument("--logins", type=int, default=40, help="measured logins of each level")
    cpu.add_argument("--profile", type=Path, help="write a cProfile of the measured logins here")
    cpu.add_argument("--out", help="also write the figures as JSON here")
    cpu.add_argument("--instructions", action="store_true",
                     help="count instructions under callgrind instead (valgrind, a C compiler)")
    cpu.set_defaults(handler=_logincpu)
    tokens = commands.add_parser("tokencpu",
                                 help="the token paths' CPU and statements per request, in process")
    tokens.add_argument("--requests", type=int, default=50, help="measured requests of each kind")
    tokens.add_argument("--revocations", type=int, default=5, help="measured revocations (a login each)")
    tokens.add_argument("--out", help="also write the figures as JSON here")
    tokens.add_argument("--instructions", action="store_true",
                        help="count instructions under callgrind instead (valgrind, a C compiler)")
    tokens.set_defaults(handler=_tokencpu)
    seeding = commands.add_parser("seed", help="bulk-insert active citizens (shared argon2id hash)")
    seeding.add_argument("--citizens", type=int, required=True)
    seeding.add_argument("--client-id", required=True, help="the client the login pool consented to")
    seeding.add_argument("--pool", type=int, default=5_000)
    seeding.add_argument("--scope", default="openid profile")
    seeding.add_argument("--device-key", type=Path, default=Path("bench-device.json"),
                         help="where to keep the private key of the pool's Cl@ve apps (0600)")
    seeding.set_defaults(handler=_seed)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
