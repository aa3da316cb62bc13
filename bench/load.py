"""Closed-loop saturation and open-loop rate control, bounded in time.

*Saturation* runs a fixed number of threads back to back; its throughput is the 100%
point. The *open-loop* run issues operations on a fixed schedule (half the saturated
rate) whatever the server does, and measures each latency from the moment the operation
was due, so a stalled server shows up in the percentiles instead of silently slowing
the generator down (no coordinated omission).

Only operations that finish inside the measurement window count; a warm-up before it
lets workers load templates, keys and connection pools first. The server's CPU time is
read from ``/proc`` at both ends of the window, so each throughput is also given per
vCPU the server actually used: the generator shares the machine's cores.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Scenario(Protocol):
    name: str

    def prepare(self, thread_index: int) -> Any:
        """Per-thread state (a token, a refresh-token chain)."""

    def run(self, state: Any) -> Any:
        """One operation; returns the (possibly new) state, raises on any failure."""


@dataclass
class Sample:
    due: float
    started: float
    end: float
    ok: bool


@dataclass
class Window:
    start: float = 0.0
    end: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_threads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, due: float, started: float, ok: bool, error: str | None = None) -> None:
        sample = Sample(due, started, time.perf_counter(), ok)
        with self.lock:
            self.samples.append(sample)
            if error and len(self.errors) < 5:
                self.errors.append(error)


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


def _client_cpu() -> float:
    times = os.times()
    return times.user + times.system


_FAILED = object()


def _prepare(scenario: Scenario, index: int, recorder: Recorder) -> Any:
    """A thread's state, or ``_FAILED`` (counted as an error: the thread sits the run out)."""
    try:
        return scenario.prepare(index)
    except Exception as error:  # noqa: BLE001
        with recorder.lock:
            recorder.failed_threads += 1
            recorder.errors.append(f"prepare: {type(error).__name__}: {error}"[:300])
        return _FAILED


def _one(scenario: Scenario, state: Any, due: float, recorder: Recorder) -> Any:
    started = time.perf_counter()
    try:
        state = scenario.run(state)
    except Exception as error:  # noqa: BLE001 - every failure is counted, the run goes on
        recorder.add(due, started, False, f"{type(error).__name__}: {error}"[:300])
        return state
    recorder.add(due, started, True)
    return state


def _measure(threads: list[threading.Thread], stop: threading.Event, warmup: float,
             seconds: float, server_cpu: Callable[[], float]) -> Window:
    for thread in threads:
        thread.start()
    time.sleep(warmup)
    window = Window(time.perf_counter(), 0.0, -server_cpu(), -_client_cpu())
    time.sleep(seconds)
    window.end = time.perf_counter()
    window.server_cpu += server_cpu()
    window.client_cpu += _client_cpu()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    return window


def saturate(scenario: Scenario, concurrency: int, warmup: float, seconds: float,
             server_cpu: Callable[[], float]) -> dict[str, Any]:
    """``concurrency`` threads back to back: the 100% point."""
    recorder, stop = Recorder(), threading.Event()

    def loop(index: int) -> None:
        state = _prepare(scenario, index, recorder)
        while state is not _FAILED and not stop.is_set():
            state = _one(scenario, state, time.perf_counter(), recorder)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(concurrency)]
    window = _measure(threads, stop, warmup, seconds, server_cpu)
    return summarise(scenario.name, "saturation", recorder, window,
                     concurrency=concurrency, target_rate=None)


def open_loop(scenario: Scenario, rate: float, threads_count: int, warmup: float, seconds: float,
              server_cpu: Callable[[], float]) -> dict[str, Any]:
    """Operations due every ``1/rate`` seconds, latency counted from when each was due."""
    recorder, stop = Recorder(), threading.Event()
    schedule_lock = threading.Lock()
    begin = time.perf_counter() + 0.05
    counter = [0]

    def loop(index: int) -> None:
        state = _prepare(scenario, index, recorder)
        while state is not _FAILED and not stop.is_set():
            with schedule_lock:
                due = begin + counter[0] / rate
                counter[0] += 1
            delay = due - time.perf_counter()
            if delay > 0:
                if stop.wait(delay):
                    return
            state = _one(scenario, state, due, recorder)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads_count)]
    window = _measure(threads, stop, warmup, seconds, server_cpu)
    return summarise(scenario.name, "open-loop", recorder, window,
                     concurrency=threads_count, target_rate=round(rate, 1))


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median throughput, with every run's throughput (lowest first) beside it:
    a virtual machine's neighbours come and go, so one run is not a figure."""
    ordered = sorted(runs, key=lambda r: r["throughput"])
    median = dict(ordered[len(ordered) // 2])
    median["repeats_throughput"] = [r["throughput"] for r in ordered]
    return median


def summarise(name: str, mode: str, recorder: Recorder, window: Window, *, concurrency: int,
              target_rate: float | None) -> dict[str, Any]:
    inside = [s for s in recorder.samples if window.start <= s.end <= window.end]
    ok = sorted((s.end - s.due) * 1000 for s in inside if s.ok)
    service = sorted((s.end - s.started) * 1000 for s in inside if s.ok)
    elapsed = window.end - window.start
    throughput = len(ok) / elapsed if elapsed else 0.0
    busy = window.server_cpu / elapsed if elapsed else 0.0
    return {
        "scenario": name, "mode": mode, "concurrency": concurrency, "target_rate": target_rate,
        "seconds": round(elapsed, 2), "completed": len(ok),
        "errors": len(inside) - len(ok) + recorder.failed_threads, "error_samples": recorder.errors,
        "throughput": round(throughput, 1),
        "latency_ms": {"p50": round(percentile(ok, 50), 2), "p95": round(percentile(ok, 95), 2),
                       "p99": round(percentile(ok, 99), 2),
                       "max": round(ok[-1], 2) if ok else 0.0},
        # From when the operation was actually sent: if it is far below the latency above, the
        # operations waited for the generator (or the machine stalled it), not for the server.
        "service_ms": {"p50": round(percentile(service, 50), 2), "p99": round(percentile(service, 99), 2)},
        "server_cpu_seconds": round(window.server_cpu, 2),
        "server_cores_busy": round(busy, 2),
        "per_server_vcpu": round(len(ok) / window.server_cpu, 1) if window.server_cpu else None,
        "client_cores_busy": round(window.client_cpu / elapsed, 2) if elapsed else 0.0,
    }
