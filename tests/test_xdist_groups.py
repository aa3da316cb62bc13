"""``make test`` runs with ``--dist loadgroup``: the tests of one ``xdist_group`` (a module
sharing one served IdP, the serving tests that must not overlap) run on one worker. With
pytest 9.2 and pytest-xdist 3.8 the mark silently stopped working
(pytest-dev/pytest-xdist#1386): each group's servers started on both workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = '''
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("one")


@pytest.mark.parametrize("n", range(6))
def test_worker(n):
    with (Path(__file__).parent / "workers").open("a") as seen:
        print(os.environ["PYTEST_XDIST_WORKER"], file=seen)
'''


def test_tests_of_one_xdist_group_all_run_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q",
                          "-p", "no:cacheprovider", "test_grouped.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    workers = set((tmp_path / "workers").read_text().split())
    assert len(workers) == 1, f"one group ran on {sorted(workers)}"
