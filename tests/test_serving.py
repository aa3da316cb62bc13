"""How `idp serve` runs the app, on each server it offers: threads that a slow or idle
client cannot hold, workers replaced on SIGHUP without a request lost, a killed worker
replaced, workers that exit with a killed server, glibc's mmap threshold fixed, its arenas
limited and umask 077 in every worker; and the memory a threaded worker keeps after argon2id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from idp import serving
from tests.support.live import LiveIdp, start_idp

pytestmark = pytest.mark.xdist_group("serving")
WORKERS = 2


@pytest.fixture(scope="module", params=serving.SERVERS)
def served(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    idp = start_idp(tmp_path_factory.mktemp(request.param), workers=WORKERS, server=request.param)
    wait_for_workers(idp, WORKERS)
    yield idp
    idp.stop()


def workers_of(idp: LiveIdp) -> set[int]:
    """The server's worker processes: the children of ``idp serve``."""
    assert idp.process is not None
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == idp.process.pid:
                found.add(int(entry.name))
    return found


def wait_for_workers(idp: LiveIdp, count: int, *, other_than: set[int] = frozenset(),  # type: ignore[assignment]
                     timeout: float = 60) -> set[int]:
    """The worker pids once there are ``count`` of them, none in ``other_than``, each
    ready (its log line written) and the server answering."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = workers_of(idp)
        if len(found) == count and not found & other_than and found <= ready_workers(idp):
            if requests.get(f"{idp.url}/healthz", timeout=10).status_code == 200:
                return found
        time.sleep(0.1)
    raise TimeoutError(f"workers: {workers_of(idp)}, ready: {ready_workers(idp)}")


def ready_workers(idp: LiveIdp) -> set[int]:
    """Workers that wrote "worker PID ready" with the mmap threshold fixed and the arenas
    limited."""
    assert idp.log is not None
    idp.log.flush()
    text = (idp.base / f"idp-{idp.port}.log").read_text()
    return {int(line.split(" worker ")[1].split()[0]) for line in text.splitlines()
            if " ready; glibc mmap threshold fixed at 1048576 bytes; malloc arenas at most 2" in line}


def answered_at_once_while_held(idp: LiveIdp, idle_and_slow: int) -> bool:
    """Whether a request is answered within 5 s while ``idle_and_slow`` connections send
    nothing and as many more are stuck in their request line."""
    held = []
    try:
        for _ in range(idle_and_slow):
            held.append(socket.create_connection(("127.0.0.1", idp.port), timeout=10))
            slow = socket.create_connection(("127.0.0.1", idp.port), timeout=10)
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            held.append(slow)
        started = time.monotonic()
        try:
            answered = requests.get(f"{idp.url}/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False
        return answered and time.monotonic() - started < 5
    finally:
        for connection in held:
            connection.close()


def test_an_idle_and_a_slow_client_do_not_hold_a_worker(served):
    assert answered_at_once_while_held(served, 1)


def test_under_granian_more_idle_and_slow_clients_than_threads_hold_no_worker(served):
    # granian reads requests in Rust: a thread is taken only by a request that has arrived.
    # gunicorn's threaded worker gives each new connection a thread at once, for up to 5 s
    # if it sends nothing and until its request is complete if it has begun one
    # (docs/deployment.md): as many such clients as threads hold a gunicorn worker.
    if served.server != "granian":
        pytest.skip("gunicorn's threads wait for the connections they are given")
    assert answered_at_once_while_held(served, 2 * serving.THREADS * WORKERS)


def test_every_worker_fixes_the_glibc_mmap_threshold(served):
    assert workers_of(served) <= ready_workers(served)


def test_every_worker_runs_with_umask_077(served):
    for pid in workers_of(served):
        status = Path(f"/proc/{pid}/status").read_text()
        assert "Umask:\t0077" in status, pid


def batch_threads(pid: int) -> int:
    return sum(os.sched_getscheduler(int(task.name)) == os.SCHED_BATCH
               for task in Path(f"/proc/{pid}/task").iterdir())


def test_every_worker_serves_from_threads_under_sched_batch(served):
    # A waking request thread no longer preempts a login's argon2id (idp.serving.BATCH).
    # Requests eight at a time until each worker has served some (they share one socket).
    deadline = time.monotonic() + 30
    while not all(batch_threads(pid) for pid in workers_of(served)) and time.monotonic() < deadline:
        askers = [threading.Thread(target=requests.get, args=(f"{served.url}/healthz",),
                                   kwargs={"timeout": 10}) for _ in range(8)]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join()
    assert all(batch_threads(pid) for pid in workers_of(served)), ready_workers(served)


def test_a_thread_puts_itself_under_sched_batch_before_its_first_request():
    seen = []
    app = serving.in_batch_threads(lambda environ, start_response: seen.append(os.sched_getscheduler(0)))
    thread = threading.Thread(target=app, args=({}, None))
    thread.start()
    thread.join()
    assert seen == [os.SCHED_BATCH] and os.sched_getscheduler(0) == os.SCHED_OTHER  # that thread only


def ask_after_a_pause(idp: LiveIdp) -> int | str:
    """One request on a new connection, sent a moment after connecting (as a client
    that resolves, handshakes TLS or builds its request after connecting): its status,
    or what went wrong."""
    try:
        with socket.create_connection(("127.0.0.1", idp.port), timeout=10) as connection:
            time.sleep(0.005)
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
    except OSError as error:
        return f"{type(error).__name__}: {error}"[:300]
    if not answer:
        return "closed without an answer"
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else repr(answer[:80])


def test_sighup_replaces_every_worker_and_every_request_is_answered(served):
    # A stopping granian worker closed, unanswered, the connections it had just accepted
    # whose request had not arrived yet (idp.granian_workers): about one request in a
    # thousand sent during a restart by clients that pause after connecting.
    before = workers_of(served)
    answers: list[int | str] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            answers.append(ask_after_a_pause(served))

    askers = [threading.Thread(target=keep_asking) for _ in range(8)]
    for asker in askers:
        asker.start()
    try:
        served.process.send_signal(signal.SIGHUP)
        after = wait_for_workers(served, WORKERS, other_than=before)
    finally:
        stop.set()
        for asker in askers:
            asker.join(timeout=30)
    assert not after & before
    assert set(answers) == {200}, [a for a in answers if a != 200][:5]
    assert requests.get(f"{served.url}/healthz", timeout=10).status_code == 200


def test_a_worker_killed_with_sigkill_is_replaced(served):
    before = workers_of(served)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    after = wait_for_workers(served, WORKERS, other_than={victim})
    assert before - {victim} <= after
    assert served.process.poll() is None


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.parametrize("server", serving.SERVERS)
def test_the_workers_exit_when_the_server_is_killed(tmp_path, server):
    # A granian worker of a server killed with SIGKILL lived on, orphaned and serving.
    idp = start_idp(tmp_path, workers=WORKERS, server=server)
    try:
        workers = wait_for_workers(idp, WORKERS)
        idp.process.send_signal(signal.SIGKILL)
        idp.process.wait(timeout=10)
        deadline = time.monotonic() + serving.GRACEFUL_TIMEOUT + 5
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if running(pid)]
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{idp.url}/healthz", timeout=5)
    finally:
        idp.stop()


# Four threads of one process verify passwords at the production argon2id cost, one at a
# time as the hasher allows, then the process reports its peak resident memory in KiB.
FOUR_THREADS = """
import sys, threading
from idp import serving
from idp.passwords import PasswordHasher
if sys.argv[1] == "served":
    assert serving.return_large_blocks()
hasher = PasswordHasher(19456, 2, 1)
encoded = hasher.hash("Clave-2026!")
threads = [threading.Thread(target=lambda: [hasher.verify(encoded, "x") for _ in range(3)])
           for _ in range(int(sys.argv[2]))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def peak_kib(mode: str, threads: int) -> int:
    done = subprocess.run([sys.executable, "-c", FOUR_THREADS, mode, str(threads)],
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout)


@pytest.mark.parametrize("mode", ["served", "default"])
def test_a_threaded_worker_does_not_keep_an_argon2_buffer_per_thread(mode):
    # Verifications run in the worker's kept block (idp/argon2_memory.py), whichever thread
    # asks; before it, with glibc's default threshold each thread's heap kept its own
    # 19 MiB buffer (about 57 MiB more for four threads), and served (return_large_blocks)
    # each verification mapped a fresh one. Four threads hold what one does.
    assert peak_kib(mode, 4) < peak_kib(mode, 1) + 10 * 1024


# Four threads allocate from glibc's malloc (blocks over Python's 512-byte small objects) and
# hold them while glibc lists its arenas on standard error.
ARENAS_OF_FOUR_THREADS = """
import ctypes, sys, threading
from idp import serving
if sys.argv[1] == "served":
    assert serving.limit_arenas()
ready = threading.Barrier(5)
kept = []
def allocate():
    kept.append([bytearray(4096) for _ in range(64)])
    ready.wait()
    ready.wait()
threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
ready.wait()
ctypes.CDLL(None).malloc_stats()
ready.wait()
for thread in threads:
    thread.join()
"""


@pytest.mark.parametrize(("mode", "arenas"), [("served", serving.ARENAS), ("default", 5)])
def test_a_worker_s_threads_share_two_malloc_arenas(mode, arenas):
    # glibc gives every thread an arena of its own (up to eight per core), each keeping its
    # own free space: MALLOC_ARENA_MAX=2, set by each worker (serving.limit_arenas).
    done = subprocess.run([sys.executable, "-c", ARENAS_OF_FOUR_THREADS, mode],
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stderr.count("Arena ") == arenas, done.stderr


# A granian worker forked by the server has the server's own SIGTERM handler (which only
# marks the server's copy as stopping) until granian sets the worker's. The loader here
# asks the worker to stop while it "loads the app", as a restart or stop can.
TOLD_TO_STOP_WHILE_LOADING = """
import os, signal, socket, time
from idp.granian_workers import start_worker
signal.signal(signal.SIGTERM, lambda *_: None)
listening = socket.create_server(("127.0.0.1", 0))
def load():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
start_worker(listening.fileno(), os.getppid(), 10, load)
"""


def test_a_granian_worker_told_to_stop_while_it_loads_the_app_exits_at_once():
    # It ignored SIGTERM and served on until the server killed it, 10 s later.
    done = subprocess.run([sys.executable, "-c", TOLD_TO_STOP_WHILE_LOADING], timeout=60)
    assert done.returncode == -signal.SIGTERM


# The main thread waits for the server's loop event; a SIGTERM handler sets it. The signal
# is blocked in the main thread, so another thread takes it, as any thread of a server
# with workers' watcher threads may. Prints how long the wait took, and whether it ended.
WOKEN_BY_A_SIGNAL_TAKEN_ELSEWHERE = """
import os, signal, sys, threading, time
from idp.granian_workers import WakeUpEvent
event = WakeUpEvent() if sys.argv[1] == "wake-up" else threading.Event()
signal.signal(signal.SIGTERM, lambda *_: event.set())
threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
started = time.monotonic()
print(event.wait(timeout=3), round(time.monotonic() - started, 1))
"""


@pytest.mark.parametrize(("event", "woken"), [("wake-up", True), ("threading", False)])
def test_a_signal_taken_by_another_thread_wakes_the_servers_loop_at_once(event, woken):
    # granian's loop waited on a threading.Event, which its signal handlers set; a Ctrl-C
    # could hang the server (idp.granian_workers). The threading case shows the test can fail.
    done = subprocess.run([sys.executable, "-c", WOKEN_BY_A_SIGNAL_TAKEN_ELSEWHERE, event],
                          capture_output=True, text=True, timeout=60, check=True)
    ended, waited = done.stdout.split()
    assert (ended == "True" and float(waited) < 2) is woken, done.stdout


# A server (this script) forks a worker and dies once the worker serves. The worker's SIGTERM
# handler prints "stopped" and ends it, as granian's graceful stop ends a worker ("stops"),
# or does nothing ("ignores"), so that only the graceful timeout (1 s) can end it. The
# worker keeps the script's stdout, so reading it to the end waits for the worker too.
SERVER_DIES = """
import os, signal, socket, sys, threading
from idp.granian_workers import start_worker
listening = socket.create_server(("127.0.0.1", 0))
serving_r, serving_w = os.pipe()
server = os.getpid()
if os.fork() == 0:
    def load():
        def stop(*_):
            print("stopped", flush=True)
            os._exit(0)
        signal.signal(signal.SIGTERM, stop if sys.argv[1] == "stops" else lambda *_: None)
        print(os.getpid(), flush=True)
        os.write(serving_w, b"!")
        threading.Event().wait()
    start_worker(listening.fileno(), server, 1, load)
else:
    os.read(serving_r, 1)
    os._exit(0)
"""


@pytest.mark.parametrize(("handler", "told"), [("stops", True), ("ignores", False)])
def test_a_worker_whose_server_died_stops_gracefully_or_after_the_graceful_timeout(handler, told):
    # Without its watch the worker lived on, and reading the script's output timed out.
    started = time.monotonic()
    script = subprocess.Popen([sys.executable, "-c", SERVER_DIES, handler], stdout=subprocess.PIPE,
                              text=True)
    worker = int(script.stdout.readline())
    try:
        rest, _ = script.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.kill(worker, signal.SIGKILL)
        raise
    assert ("stopped" in rest) is told
    assert told or time.monotonic() - started >= 1  # the graceful timeout was given in full
