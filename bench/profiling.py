"""Where a request's time goes: py-spy samples of the server's workers under load (the
Python frames: granian's HTTP work is Rust, outside them).

py-spy attaches from outside (``--nonblocking``: the workers are never paused) and
records with ``--idle``, so time spent waiting on the database (SQLite's lock and
commit, a PostgreSQL round trip) is seen, not only CPU. Samples outside a request
(a worker thread waiting for a connection) are dropped. Each remaining sample is put in one
bucket by the innermost frame that names a known library, so the buckets add up to
the whole time of the request.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")
IN_REQUEST = "Flask.__call__"
SERVING = {"idp/cli.py", "idp/serving.py"}  # the frames under every request

# innermost match wins; (bucket, test on function name, test on file path)
BUCKETS: list[tuple[str, str, str]] = [
    ("argon2id hashing", "", "argon2/"),
    ("JOSE signing (RS256/ES256)", "sign", "joserfc/"),
    ("JOSE / JSON Web Tokens (other)", "", "joserfc/"),
    ("SQLite/driver: commit (fsync, lock waits)", "do_commit", "sqlalchemy/"),
    ("SQLite/driver: statements (incl. lock waits)", "do_execute", "sqlalchemy/"),
    ("SQLite/driver: statements (incl. lock waits)", "fetch", "sqlalchemy/engine/cursor"),
    ("SQLAlchemy ORM/Core (Python)", "", "sqlalchemy/"),
    ("Jinja templates", "", "jinja2/"),
    ("Babel / translations", "", "babel/"),
    ("logging (audit log lines, access log)", "", "logging/"),
    ("logging (audit log lines, access log)", "", "gunicorn/glogging"),
    ("gunicorn (HTTP parsing, socket I/O)", "", "gunicorn/"),
    ("granian (WSGI environ and response, its Python side)", "", "granian/"),
    ("Authlib", "", "authlib/"),
    ("Flask-WTF CSRF / itsdangerous", "", "flask_wtf/"),
    ("Flask-WTF CSRF / itsdangerous", "", "itsdangerous/"),
    ("Werkzeug / Flask", "", "werkzeug/"),
    ("Werkzeug / Flask", "", "flask/"),
    ("Werkzeug / Flask", "", "flask_babel/"),
    ("QR code rendering", "", "qrcode/"),
    ("requests (outbound HTTP)", "", "requests/"),
    ("idp code", "", "idp/"),
]


def py_spy() -> str | None:
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


class Recording:
    """py-spy on every worker for ``seconds``; ``result()`` waits and aggregates."""

    def __init__(self, pids: list[int], seconds: float, out_dir: Path, label: str) -> None:
        self.files = [out_dir / f"pyspy-{label}-{pid}.txt" for pid in pids]
        binary = py_spy()
        self.processes = [] if binary is None else [
            subprocess.Popen([binary, "record", "--idle", "--nonblocking", "--rate", "200",  # noqa: S603
                              "--pid", str(pid), "--duration", str(max(1, round(seconds))),
                              "--format", "raw", "--output", str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for pid, path in zip(pids, self.files, strict=True)]

    def result(self) -> dict[str, Any] | None:
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        stacks = []
        for path in self.files:
            if path.exists():
                stacks += path.read_text().splitlines()
        return aggregate(stacks) if stacks else None


def _parse(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame)
    if not match:
        return frame, ""
    path = match.group("file").split("site-packages/")[-1]
    return match.group("func"), path


def _bucket(frames: list[tuple[str, str]]) -> str:
    for func, path in reversed(frames):
        for bucket, func_test, path_test in BUCKETS:
            if path_test in path and func_test in func:
                return bucket
    return "other (stdlib, C extensions)"


def aggregate(lines: list[str], top: int = 12) -> dict[str, Any]:
    """Shares of request time per bucket, and the idp functions that hold the most time."""
    buckets: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not count_text.isdigit() or IN_REQUEST not in stack:
            continue
        count = int(count_text)
        frames = [_parse(frame) for frame in stack.split(";")]
        total += count
        buckets[_bucket(frames)] += count
        for name in {f"{func} ({path})" for func, path in frames
                     if path.startswith("idp/") and path not in SERVING}:
            functions[name] += count
    if not total:
        return {"samples": 0}
    return {
        "samples": total,
        "buckets": {name: round(n / total, 3) for name, n in buckets.most_common()},
        "idp_functions_inclusive": {name: round(n / total, 3) for name, n in functions.most_common(top)},
    }
