"""The machine and its limits, measured in the same run as the server figures.

The limits are the inherent work of each flow done raw, on one core, with nothing
around it: one argon2id verification per login at the configured parameters, one
signature per token response. A server throughput divided by its limit says how much
of each vCPU goes to the work that cannot be removed.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from idp.argon2_memory import KeptMemory

ARGON2_DEFAULTS = {"memory_kib": 19456, "time_cost": 2, "parallelism": 1}


def describe() -> dict[str, Any]:
    """nproc, CPU model, RAM and Python version: what a reader needs to compare figures."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count() or 1,
        "cpu_model": model,
        "ram_gib": round(ram_kib / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def _rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``operation`` run back to back on this thread."""
    operation()  # warm-up: first calls allocate and import
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        operation()
        done += 1
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def argon2_verifications_per_second(seconds: float, memory_kib: int, time_cost: int,
                                    parallelism: int) -> float:
    verify, encoded = _verifier(memory_kib, time_cost, parallelism)
    return _rate(lambda: verify(encoded, "Benchmark-Clave-2026!"), seconds)


def _verifier(memory_kib: int, time_cost: int, parallelism: int) -> tuple[Callable[[str, str], bool], str]:
    """The verification a worker runs (``idp.argon2_memory``: in a kept block) and a hash."""
    encoded = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost,
                             parallelism=parallelism, type=Type.ID).hash("Benchmark-Clave-2026!")
    return KeptMemory(1).verify, encoded


def argon2_cpu_ms(calls: int, memory_kib: int, time_cost: int, parallelism: int) -> float:
    """CPU milliseconds of one argon2id verification on this thread: unlike a rate, what
    neighbours on a busy machine cannot change, and what a server's CPU time includes."""
    verify, encoded = _verifier(memory_kib, time_cost, parallelism)
    verify(encoded, "Benchmark-Clave-2026!")
    start = time.thread_time()
    for _ in range(calls):
        verify(encoded, "Benchmark-Clave-2026!")
    return 1000 * (time.thread_time() - start) / calls


def signatures_per_second(alg: str, seconds: float) -> float:
    message = b"x" * 600  # about the size of an ID token's signing input
    if alg == "RS256":
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _rate(lambda: rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256()), seconds)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return _rate(lambda: ec_key.sign(message, ec.ECDSA(hashes.SHA256())), seconds)


def argon2_on_every_core(seconds: float, params: dict[str, int]) -> float:
    """argon2id on ``nproc`` threads at once (argon2-cffi releases the GIL): what all the
    vCPUs together deliver, which on a virtual machine can be far less than nproc × one."""
    cores = os.cpu_count() or 1
    with ThreadPoolExecutor(cores) as pool:
        rates = list(pool.map(lambda _: argon2_verifications_per_second(seconds, **params), range(cores)))
    return sum(rates)


def measure_limits(seconds: float, argon2: dict[str, int] | None = None) -> dict[str, Any]:
    """Raw per-core rates, single-threaded, while nothing else runs; and argon2id on all cores."""
    params = {**ARGON2_DEFAULTS, **(argon2 or {})}
    one = argon2_verifications_per_second(seconds, **params)
    every = argon2_on_every_core(seconds, params)
    return {
        "argon2id_verifications_per_s_per_core": round(one, 1),
        "argon2id_verifications_per_s_all_cores": round(every, 1),
        "parallel_speedup": round(every / one, 2),
        "argon2id_parameters": params,
        "argon2id_cpu_ms_per_verification": round(argon2_cpu_ms(max(3, round(10 * seconds)), **params), 2),
        "rs256_signatures_per_s_per_core": round(signatures_per_second("RS256", seconds), 1),
        "es256_signatures_per_s_per_core": round(signatures_per_second("ES256", seconds), 1),
        "seconds_each": seconds,
    }
