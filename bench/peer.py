"""node-oidc-provider, the reference peer: found, installed and run beside our server.

The peer's code lives outside this repository, by default in
``../shared/peers/node-oidc-provider`` next to a clone (``--peer-dir`` or
``IDP_BENCH_PEER_DIR`` name another place); nothing of it is copied into the repository.
``npm ci`` installs its packages in that directory, or, when it is read-only, in a copy of
its three files under the user's cache (``~/.cache/clave-bench``), reinstalled only when
they change. Without the directory, Node.js ≥ 20 or npm, the run says why and goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.cores import taskset
from bench.deploy import cpu_seconds, free_port, memory_kib
from bench.machine import ARGON2_DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT.parent / "shared" / "peers" / "node-oidc-provider"
FILES = ("package.json", "package-lock.json", "server_argon2.mjs")
MIN_NODE = 20
STAMP = ".clave-bench-installed"


def peer_dir(option: str | None = None) -> Path:
    return Path(option or os.environ.get("IDP_BENCH_PEER_DIR") or DEFAULT_DIR).resolve()


def node_major(version: str) -> int | None:
    """``"v20.20.2"`` → 20; None for anything else."""
    found = re.fullmatch(r"v?(\d+)\.\d+\.\d+\S*", version.strip())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Absent:
    reason: str

    def describe(self) -> dict[str, Any]:
        return {"status": "absent", "reason": self.reason}


@dataclass(frozen=True)
class Installed:
    source: Path
    directory: Path  # where node_modules is
    node: str
    node_version: str
    version: str  # of oidc-provider

    def describe(self) -> dict[str, Any]:
        return {"status": "measured", "source": shown(self.source), "installed_in": shown(self.directory),
                "node": self.node_version, "oidc_provider": self.version}


def shown(path: Path) -> str:
    """A path as the report prints it (docs/performance.md is committed): relative to the
    folder that holds the repository, or under ``~``; never this machine's absolute path."""
    for base, prefix in ((ROOT.parent, ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.resolve().relative_to(base))
        except ValueError:
            continue
    return path.name


def _digest(source: Path) -> str:
    sha = hashlib.sha256()
    for name in FILES:
        sha.update((source / name).read_bytes())
    return sha.hexdigest()


def working_copy(source: Path, digest: str) -> Path:
    """The directory ``npm ci`` runs in: the peer's own, or a copy when it is read-only."""
    # A directory without write bits is read-only by intent, even for root (whom os.access
    # would let write).
    if source.stat().st_mode & 0o222 and os.access(source, os.W_OK):
        return source
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clave-bench"
    copy = cache / f"node-oidc-provider-{digest[:16]}"
    copy.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if not (copy / name).exists() or (copy / name).read_bytes() != (source / name).read_bytes():
            shutil.copyfile(source / name, copy / name)
    return copy


def install(source: Path, log: Any = print) -> Installed | Absent:
    """Check the peer's prerequisites and ``npm ci`` it once per version of its files."""
    missing = [name for name in FILES if not (source / name).is_file()]
    if missing:
        return Absent(f"no peer at {shown(source)} (missing {', '.join(missing)}; set IDP_BENCH_PEER_DIR)")
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        return Absent(f"Node.js is not installed (the peer needs Node.js ≥ {MIN_NODE})")
    version = subprocess.run([node, "--version"], capture_output=True, text=True,  # noqa: S603
                             timeout=30).stdout.strip()
    if (node_major(version) or 0) < MIN_NODE:
        return Absent(f"Node.js {version or '(unknown version)'} found; the peer needs ≥ {MIN_NODE}")
    if npm is None:
        return Absent("npm is not installed")
    digest = _digest(source)
    directory = working_copy(source, digest)
    stamp = directory / "node_modules" / STAMP
    if not stamp.exists() or stamp.read_text() != digest:
        log(f"peer: npm ci in {directory}")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory,  # noqa: S603
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            return Absent(f"npm ci failed in {directory}: {last[0]}")
        stamp.write_text(digest)
    package = directory / "node_modules" / "oidc-provider" / "package.json"
    return Installed(source, directory, node, version, json.loads(package.read_text())["version"])


class PeerServer:
    """``node server_argon2.mjs PORT`` on the given cores, argon2id at our parameters."""

    def __init__(self, installed: Installed, log_dir: Path) -> None:
        self.installed = installed
        self.port = free_port()
        self.log_path = log_dir / "peer-node-oidc-provider.log"
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cpus: Sequence[int] | None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGON2_", "PEER_"))}
        env.update(ARGON2_M=str(ARGON2_DEFAULTS["memory_kib"]), ARGON2_T=str(ARGON2_DEFAULTS["time_cost"]),
                   ARGON2_P=str(ARGON2_DEFAULTS["parallelism"]), PEER_ROTATE_REFRESH="1")
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(  # noqa: S603 - the peer as its README runs it
                taskset([self.installed.node, "server_argon2.mjs", str(self.port)], cpus),
                cwd=self.installed.directory, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the peer exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.base}/.well-known/openid-configuration", timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("the peer did not come up")

    def discovery(self) -> dict[str, Any]:
        return requests.get(f"{self.base}/.well-known/openid-configuration", timeout=10).json()

    def cpu_seconds(self) -> float:
        """All its threads (libuv's argon2 pool included): /proc counts them per process."""
        return cpu_seconds([self.process.pid]) if self.process else 0.0

    def memory(self) -> dict[str, Any]:
        if not self.process:
            return {}
        peak = memory_kib(self.process.pid, "VmHWM") / 1024
        return {"peak_rss_mb_per_worker": [round(peak, 1)], "peak_rss_mb_max": round(peak, 1),
                "rss_mb_per_worker": [round(memory_kib(self.process.pid, "VmRSS") / 1024, 1)]}

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
