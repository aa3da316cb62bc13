"""Metrics under a real multi-worker ``idp serve`` (each server it offers): every worker's
counts are summed, by the workers' ``/metrics`` as by the address of its own
(``IDP_METRICS_BIND``), even the counts of workers gone since."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from idp import serving
from tests.support.live import free_port, start_idp
from tests.test_serving import wait_for_workers, workers_of

pytestmark = pytest.mark.xdist_group("serving")
WORKERS = 2
TOKEN = "scrape-token-of-the-live-test"
DISCOVERY = "/.well-known/openid-configuration"


def discovery_count(url: str, token: str | None = TOKEN) -> float:
    answer = requests.get(f"{url}/metrics", timeout=10,
                          headers={"Authorization": f"Bearer {token}"} if token else {})
    assert answer.status_code == 200, answer.status_code
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if (sample.name == "idp_http_requests_total"
                    and sample.labels == {"route": "oidc.openid_configuration", "status": "200"}):
                return sample.value
    return 0.0


@pytest.mark.parametrize("server", serving.SERVERS)
def test_the_counts_of_every_worker_are_summed_even_after_they_are_replaced(tmp_path, server):
    own_dir = tmp_path / "prometheus"
    own_dir.mkdir()
    (own_dir / "counter_999999.db").write_bytes(b"an earlier run's file")
    bind = f"127.0.0.1:{free_port()}"
    idp = start_idp(tmp_path, workers=WORKERS, server=server, IDP_METRICS_BIND=bind,
                    IDP_METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(own_dir))
    try:
        first = wait_for_workers(idp, WORKERS)
        assert not (own_dir / "counter_999999.db").exists()
        assert discovery_count(f"http://{bind}") == 0
        for _ in range(20):
            assert requests.get(f"{idp.url}{DISCOVERY}", timeout=10).status_code == 200
        assert discovery_count(f"http://{bind}") == 20

        idp.process.send_signal(signal.SIGHUP)  # every worker replaced: their counts stay
        wait_for_workers(idp, WORKERS, other_than=first)
        for _ in range(10):
            assert requests.get(f"{idp.url}{DISCOVERY}", timeout=10).status_code == 200

        assert discovery_count(f"http://{bind}") == 30
        assert discovery_count(idp.url) == 30  # any worker answers for all of them
        assert requests.get(f"{idp.url}/metrics", timeout=10).status_code == 401
        assert requests.get(f"http://{bind}/metrics", timeout=10).status_code == 401
        assert requests.get(f"http://{bind}/healthz", timeout=10).status_code == 404
        assert len(workers_of(idp)) == WORKERS
    finally:
        idp.stop()


@pytest.mark.parametrize("server", serving.SERVERS)
def test_with_a_metrics_address_the_old_workers_leave_at_once_on_restart_and_stop(tmp_path, server):
    """The scrape thread belongs to the server's main process: a worker forked from it
    must not wait for that thread on its way out (it did, until the server's graceful
    timeout killed it), nor remove the directory every worker counts in."""
    idp = start_idp(tmp_path, workers=WORKERS, server=server,
                    IDP_METRICS_BIND=f"127.0.0.1:{free_port()}", IDP_METRICS_TOKEN=TOKEN)
    try:
        first = wait_for_workers(idp, WORKERS)
        assert requests.get(f"{idp.url}{DISCOVERY}", timeout=10).status_code == 200
        idp.process.send_signal(signal.SIGHUP)
        wait_for_workers(idp, WORKERS, other_than=first)
        assert wait_until(lambda: not any(pid_exists(pid) for pid in first), seconds=10)
        assert discovery_count(idp.url) == 1  # the count of the workers gone is kept
        idp.process.terminate()
        assert idp.process.wait(timeout=10) == 0
        log = (tmp_path / f"idp-{idp.port}.log").read_text()
        assert "WORKER TIMEOUT" not in log and "SIGKILL" not in log
    finally:
        idp.stop()


def pid_exists(pid: int) -> bool:
    """Whether ``pid`` is still a process that has not been reaped (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


def wait_until(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_a_metrics_address_already_taken_stops_the_start_with_a_clear_message(tmp_path):
    import socket

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(RuntimeError):
            start_idp(tmp_path, IDP_METRICS_BIND=bind, TMPDIR=str(scratch))
        assert f"IDP_METRICS_BIND={bind}: cannot listen there" in (
            next(tmp_path.glob("idp-*.log")).read_text())
    assert list(scratch.iterdir()) == []  # its metrics directory removed too
