"""Instructions per request of a login, counted by callgrind: a figure the load of a shared
machine does not move (``python -m bench logincpu --instructions``; needs valgrind, its
``valgrind/callgrind.h`` and a C compiler).

The measurement of ``bench.logincpu`` runs again under ``valgrind --tool=callgrind`` with
collection off, and each request's WSGI call switches it on and off through a client
request (a three-line C library built here), then dumps the count under the request's
name. argon2id's own C function switches collection off while it runs
(``--toggle-collect=argon2_ctx``), so what is counted is the login outside argon2id.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

_LIBRARY = "CLAVE_CALLGRIND_LIBRARY"
_SOURCE = """#include <valgrind/callgrind.h>
void clave_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void clave_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""
_ORDER = ["GET /authorize (login page)", "POST /login", "POST /login/otp", "POST /token",
          "GET /userinfo"]
_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (.*)$", re.MULTILINE)
_SUMMARY = re.compile(r"^(?:summary|totals): (\d+)", re.MULTILINE)


class Marks:
    """The client requests, inside the measured process (a no-op outside valgrind)."""

    def __init__(self, path: str) -> None:
        self._library = ctypes.CDLL(path)

    def toggle(self) -> None:
        self._library.clave_toggle()

    def dump(self, label: str) -> None:
        self._library.clave_dump(label.encode())


def marks() -> Marks | None:
    path = os.environ.get(_LIBRARY)
    return Marks(path) if path else None


def measure(logins: int) -> dict[str, Any]:
    """Per request and per login, the median instructions of ``logins`` logins of each level."""
    return _summary(_count(["logincpu", "--logins", str(logins)]), logins)


def measure_tokens(requests: int, revocations: int) -> dict[str, Any]:
    """Per request of the token paths (``bench.tokencpu``), the median instructions."""
    counts = _count(["tokencpu", "--requests", str(requests), "--revocations", str(revocations)])
    return {"requests": requests, "revocations": revocations,
            "per_request": {label.split("|", 1)[1]: statistics.median(values)
                            for label, values in counts.items()}}


def _count(arguments: list[str]) -> dict[str, list[int]]:
    """``python -m bench ARGUMENTS`` under callgrind: each dump's count by its label."""
    missing = [tool for tool in ("valgrind", "cc") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"--instructions needs {' and '.join(missing)} (apt-get install valgrind gcc)")
    with tempfile.TemporaryDirectory(prefix="clave-callgrind-") as work:
        source, library = Path(work, "marks.c"), Path(work, "marks.so")
        source.write_text(_SOURCE)
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(library), str(source)], check=True)  # noqa: S603, S607
        out = Path(work, "callgrind.out")
        command = ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=argon2_ctx",
                   f"--callgrind-out-file={out}", sys.executable, "-m", "bench", *arguments]
        subprocess.run(  # noqa: S603
            command,
            check=True, env={**os.environ, _LIBRARY: str(library)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        counts: dict[str, list[int]] = defaultdict(list)
        for dump in Path(work).glob("callgrind.out.*"):
            text = dump.read_text(errors="replace")
            trigger, summary = _TRIGGER.search(text), _SUMMARY.search(text)
            if trigger and summary and "\0" not in trigger.group(1) and "|" in trigger.group(1):
                counts[trigger.group(1)].append(int(summary.group(1)))
    return counts


def _summary(counts: dict[str, list[int]], logins: int) -> dict[str, Any]:
    levels: dict[str, Any] = {}
    for label, values in sorted(counts.items(), key=lambda item: _ORDER.index(item[0].split("|", 1)[1])):
        level, step = label.split("|", 1)
        levels.setdefault(level, {"requests": {}})["requests"][step] = statistics.median(values)
    for entry in levels.values():
        entry["instructions"] = sum(entry["requests"].values())
    return {"logins_per_level": logins, "levels": levels}


def markdown(result: dict[str, Any]) -> str:
    low, full = result["levels"]["low"], result["levels"]["substantial"]
    lines = [f"Instructions per request outside argon2id (callgrind, median of {result['logins_per_level']} "
             "logins per level, counted only inside each WSGI call):", "",
             "| Request | Password only (low), M | Password + SMS (substantial), M |", "|---|---:|---:|"]
    for step, value in full["requests"].items():
        cheap = low["requests"].get(step)
        lines.append(f"| {step} | {cheap / 1e6:.2f} | {value / 1e6:.2f} |" if cheap is not None
                     else f"| {step} | – | {value / 1e6:.2f} |")
    lines.append(f"| **= a login** | **{low['instructions'] / 1e6:.1f}** "
                 f"| **{full['instructions'] / 1e6:.1f}** |")
    return "\n".join(lines)
