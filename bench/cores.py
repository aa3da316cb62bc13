"""Which cores the servers get and which the load generator keeps.

In the side-by-side run each server (ours and the peer) is started under ``taskset`` on
the same core set, and the generator's threads are kept off it, so that "one core each"
means the same thing for both servers. On a machine with a single core nothing is pinned
and the report says so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Split:
    server: tuple[int, ...]
    generator: tuple[int, ...]

    def describe(self) -> dict[str, list[int]]:
        return {"server_cpus": list(self.server), "generator_cpus": list(self.generator)}


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """``"0-2,5"`` → ``(0, 1, 2, 5)``: the syntax of ``taskset -c``."""
    cpus: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        cpus.update(range(int(low), int(high or low) + 1))
    return tuple(sorted(cpus))


def split(available: Sequence[int], server_spec: str | None = None) -> Split | None:
    """The servers' cores (by default the last one) and the generator's (the others);
    None when they cannot be kept apart."""
    usable = tuple(sorted(available))
    server = parse_cpu_list(server_spec) if server_spec else usable[-1:]
    generator = tuple(cpu for cpu in usable if cpu not in server)
    if not server or not generator or not set(server) <= set(usable):
        return None
    return Split(server, generator)


def available() -> tuple[int, ...]:
    return tuple(sorted(os.sched_getaffinity(0)))


def taskset(command: list[str], cpus: Sequence[int] | None) -> list[str]:
    """``command`` started on ``cpus`` (``taskset`` execs it: the process id stays the same)."""
    if not cpus:
        return command
    tool = shutil.which("taskset")
    if tool is None:
        raise RuntimeError("taskset not found (util-linux): cannot pin the servers")
    return [tool, "-c", ",".join(map(str, cpus)), *command]


def pin_tree(pid: int, cpus: Sequence[int]) -> None:
    """Move a running process and its children (a database server's backends) to ``cpus``;
    processes it forks later inherit the setting."""
    from bench.deploy import children  # deploy starts servers through taskset() above

    for each in (pid, *children(pid)):
        try:
            os.sched_setaffinity(each, cpus)
        except (ProcessLookupError, PermissionError):
            continue


@contextmanager
def generator_on(cpus: Sequence[int] | None) -> Iterator[None]:
    """The calling thread (and the threads it starts from now on) kept on ``cpus``."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
