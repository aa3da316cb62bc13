"""The IdP as deployed: ``idp init``, ``idp client create`` and ``idp serve --workers N``
(its default server, granian, or ``server="gunicorn"``) in a temporary directory, with what the
benchmark reads from outside: the workers' CPU time and peak resident memory from ``/proc``."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.cores import taskset
from idp.serving import DEFAULT_SERVER
from idp.settings import BY_NAME

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SUBSTANTIAL = "http://eidas.europa.eu/LoA/substantial"
LOW = "http://eidas.europa.eu/LoA/low"
REDIRECT_URI = "http://127.0.0.1:9/cb"  # nothing listens there: codes are read, not followed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2:].split()  # fields after "pid (comm)"


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the server's workers under its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return sorted(found)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def memory_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def bench_rate_limits() -> str:
    """The default limits but one: every login of the load generator comes from loopback,
    where a deployment sees each citizen's own address, so the SMS codes sent per address
    (``sms.ip``) are not capped. Every limit is still checked and counted."""
    default = BY_NAME["IDP_RATE_LIMITS"].default
    return " ".join("sms.ip=1000000000/3600" if item.startswith("sms.ip=") else item
                    for item in default.split())


@dataclass
class Deployment:
    """One IdP installation: database, keys, secret and an SMS file in ``base``."""

    base: Path
    database_url: str
    log_dir: Path | None = None  # where the server's stderr goes (default: ``base``)
    label: str = "idp"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    workers: int = 0
    server: str = DEFAULT_SERVER
    cpus: Sequence[int] | None = None  # the cores the server's processes are pinned to

    def __post_init__(self) -> None:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        # Every other IDP_* setting keeps its default: argon2id m=19 MiB t=2 p=1 included.
        self.env = {**inherited, "IDP_ISSUER": self.url, "IDP_DATABASE_URL": self.database_url,
                    "IDP_KEYS_DIR": str(self.base / "keys"),
                    "IDP_SECRET_KEY": secrets.token_urlsafe(32),
                    "IDP_SMS_BACKEND": f"file:{self.sms_file}",
                    "IDP_RATE_LIMITS": bench_rate_limits()}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sms_file(self) -> Path:
        return self.base / "sms.jsonl"

    def settings(self) -> dict[str, str]:
        """The IDP_* overrides for ``create_app`` in the benchmark's own process."""
        return {k: v for k, v in self.env.items() if k.startswith("IDP_")}

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "idp"), *args], env=self.env, cwd=self.base,  # noqa: S603
                              capture_output=True, text=True, check=True, timeout=120)
        return done.stdout

    def init(self) -> None:
        self.cli("init")

    def create_client(self, scope: str, acr: str = SUBSTANTIAL) -> dict[str, str]:
        """A confidential client whose logins are at ``acr`` unless they ask for more."""
        return json.loads(self.cli("client", "create", "--name", f"Benchmark RP ({acr.rsplit('/', 1)[-1]})",
                                   "--redirect-uri", REDIRECT_URI, "--scope", scope,
                                   "--default-acr", acr, "--json"))

    def start(self, workers: int, cpus: Sequence[int] | None = None,
              serve_args: Sequence[str] = ()) -> None:
        """``idp serve --workers N`` (plus ``serve_args``), on ``cpus`` when given."""
        self.workers = workers
        log = ((self.log_dir or self.base) / f"serve-{self.label}-{workers}w.log").open("w")
        command = [str(BIN / "idp"), "serve", "--port", str(self.port), "--workers", str(workers),
                   "--server", self.server, *serve_args]
        self.process = subprocess.Popen(  # noqa: S603 - our own console script
            taskset(command, cpus if cpus is not None else self.cpus), env=self.env, cwd=self.base,
            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"idp serve exited with {self.process.returncode}; see {log.name}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200 and \
                        len(self.worker_pids()) == workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("idp serve did not come up")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def server_pids(self) -> list[int]:
        return [self.process.pid, *self.worker_pids()] if self.process else []

    def server_cpu_seconds(self) -> float:
        return cpu_seconds(self.server_pids())

    def memory(self) -> dict[str, Any]:
        """Peak (VmHWM) and current (VmRSS) resident memory of each worker, in MB."""
        workers = self.worker_pids()
        peak = [memory_kib(pid, "VmHWM") / 1024 for pid in workers]
        now = [memory_kib(pid, "VmRSS") / 1024 for pid in workers]
        return {"peak_rss_mb_per_worker": [round(v, 1) for v in peak],
                "rss_mb_per_worker": [round(v, 1) for v in now],
                "peak_rss_mb_max": round(max(peak, default=0), 1)}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
