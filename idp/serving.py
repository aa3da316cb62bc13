"""``idp serve``: the app under granian (the default) or gunicorn, from our own console
script, alike on both: threaded workers that a slow or idle client cannot hold, workers
replaced on SIGHUP without a request lost, a killed worker replaced, workers that exit
with a killed server, an access log without query strings, and
glibc's mmap threshold fixed and its arenas limited in every worker, and metrics (when configured) summed over
every worker. Where they differ: docs/deployment.md."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

log = logging.getLogger("idp.serving")
# prometheus-client's multiprocess mode: where every worker writes its counts (idp.metrics).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# granian serves the same requests for a third to two thirds of gunicorn's CPU (its HTTP is
# Rust, off the GIL; `python -m bench servers`), and keeps every behaviour gunicorn's does
# once its workers stop accepting before they stop (idp.granian_workers). gunicorn stays
# selectable with ``idp serve --server gunicorn``.
SERVERS = ("granian", "gunicorn")
DEFAULT_SERVER = "granian"

THREADS = 4  # per worker: requests of one worker run at once (the GIL allows one at a time)
TIMEOUT = 30  # seconds a client has to send its request headers; gunicorn: a silent worker
GRACEFUL_TIMEOUT = 10  # seconds a stopping worker has to finish what it is serving

# Threaded workers: a browser's speculative connection that never sends a request would
# otherwise hold a sync worker for the whole timeout when no proxy buffers.
WORKER_OPTIONS = {"worker_class": "gthread", "threads": THREADS, "timeout": TIMEOUT,
                  "graceful_timeout": GRACEFUL_TIMEOUT}

# Gunicorn's default logs the full request line: query strings carry personal data
# (``login_hint`` = a DNI, ``id_token_hint`` = an ID token with its claims). Path only, and
# the request id instead of the Referer. AccessLog writes the same line under granian.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %({x-request-id}o)s'


# glibc's M_MMAP_THRESHOLD (mallopt parameter -3); see return_large_blocks().
_M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 1 << 20
# glibc's M_ARENA_MAX (mallopt parameter -8), as MALLOC_ARENA_MAX sets it; see limit_arenas().
_M_ARENA_MAX = -8
ARENAS = 2


def return_large_blocks() -> bool:
    """Make glibc give blocks of 1 MiB and more back to the system as soon as they are freed.

    By default glibc raises its mmap threshold after the first large block is freed, so the
    next argon2id buffer (19 MiB) comes from the heap of whichever thread asked, and every
    thread's heap keeps its own copy: a worker with 4 threads held about 76 MB more than a
    single-threaded one. A fixed threshold keeps such blocks mmapped and unmapped on free.
    Set by each worker as it loads the app (granian may start workers by spawning, which
    keeps nothing of the master's C library state); a no-op (False) where the C library is
    not glibc.
    """
    return _mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)


def limit_arenas() -> bool:
    """At most ARENAS glibc malloc arenas in the process, as ``MALLOC_ARENA_MAX=2`` would.

    glibc gives each thread that allocates an arena of its own, up to eight per core: a
    worker's request threads and granian's runtime threads each kept theirs, with its own
    free space, about 1.7 MB of a worker's peak RSS (docs/performance.md). Python
    allocates under the GIL, so the threads seldom find an arena taken. Set as the worker
    loads the app: glibc fixes its limit only once it has made more than eight arenas,
    which no worker has done by then; a no-op (False) where the C library is not glibc.
    """
    return _mallopt(_M_ARENA_MAX, ARENAS)


def _mallopt(parameter: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(parameter, value))
    except (OSError, AttributeError):
        return False


def worker_app() -> WsgiApp:
    """The app as one worker serves it, built in that worker."""
    from idp import create_app

    fixed, limited = return_large_blocks(), limit_arenas()
    app = create_app()
    log.info("worker %d ready; glibc mmap threshold %s; malloc arenas %s; request threads %s",
             os.getpid(), f"fixed at {LARGE_BLOCK} bytes" if fixed else "left to the C library",
             f"at most {ARENAS}" if limited else "left to the C library",
             "SCHED_BATCH" if BATCH is not None else "as started")
    return in_batch_threads(app)


# A request thread is CPU-bound while it runs (Python, argon2id, RS256): under SCHED_BATCH a
# thread that wakes does not preempt the one running, and runs when that one's turn ends. A
# served login's argon2id used to be interrupted by every request thread that woke beside it,
# and each switch cost both sides their caches: in one worker, alternating every 40 logins
# (four at a time, on one core), a login with the SMS step took 4.0 ms less server CPU
# (10 of 10 rounds; 43 involuntary context switches per login became 22). docs/performance.md.
BATCH = getattr(os, "SCHED_BATCH", None)  # Linux


def in_batch_threads(app: WsgiApp) -> WsgiApp:
    """``app`` run by threads that each put themselves under SCHED_BATCH before their first
    request (granian's threads are made by its Rust runtime: no hook runs when one starts).
    The policy needs no privilege; where it is refused the thread runs as it was."""
    if BATCH is None:
        return app
    batched = threading.local()

    def served(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not getattr(batched, "asked", False):
            batched.asked = True
            try:
                os.sched_setscheduler(0, BATCH, os.sched_param(0))  # 0: this thread (Linux)
            except OSError:
                pass
        return app(environ, start_response)

    return served


def granian_worker_app() -> WsgiApp:
    """granian's target: its own access log holds no response header, so ours writes it."""
    return AccessLog(as_gunicorn_would(worker_app()))


def as_gunicorn_would(app: WsgiApp) -> WsgiApp:
    """granian's environ where it differs from gunicorn's (and from PEP 3333): HTTP/1.0 is
    written ``HTTP/1``, and a Host that is missing or not ASCII is ``HTTP_HOST = ""``, which
    the app refuses as malformed. HTTP/1.0 needs no Host (load balancers' probes send none):
    there the server's own address stands in, as under gunicorn; HTTP/1.1 must send one."""

    def mended(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("SERVER_PROTOCOL") == "HTTP/1":
            environ["SERVER_PROTOCOL"] = "HTTP/1.0"
            if environ.get("HTTP_HOST") == "":
                del environ["HTTP_HOST"]
        return app(environ, start_response)

    return mended


class AccessLog:
    """The access line gunicorn writes with ACCESS_LOG_FORMAT, written under granian: the
    client's address (after ProxyFix), the time, method, path without the query string,
    protocol, status, length, User-Agent and the request id the app answered with."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.logger = logging.getLogger("idp.access")
        if not self.logger.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.logger.addHandler(handler)
            self.logger.setLevel(logging.INFO)
            self.logger.propagate = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        answered: list[Any] = []

        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording)
        status, headers = answered or ["500", []]
        self.logger.info(self.line(environ, status, headers))
        return body

    @staticmethod
    def line(environ: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> str:
        found = {name.lower(): value for name, value in headers}
        return '%s %s "%s %s %s" %s %s "%s" %s' % (  # noqa: UP031 - gunicorn's own layout
            environ.get("REMOTE_ADDR", "-"), time.strftime("[%d/%b/%Y:%H:%M:%S %z]"),
            environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-"),
            environ.get("SERVER_PROTOCOL", "-"), status.split(" ", 1)[0],
            found.get("content-length", "-"), environ.get("HTTP_USER_AGENT", "-"),
            found.get("x-request-id", "-"))


def serve_app(host: str, port: int, workers: int, server: str = DEFAULT_SERVER) -> None:
    """Serve until stopped: SIGTERM or SIGINT stops gracefully, SIGHUP replaces the workers,
    a worker that dies is replaced."""
    from idp import settings

    config = settings.load()
    with worker_metrics(config["IDP_METRICS_BIND"], config["IDP_METRICS_TOKEN"]) as counting:
        if server == "gunicorn":
            serve_gunicorn(host, port, workers, counting)
        else:
            serve_granian(host, port, workers, counting)


@contextmanager
def worker_metrics(bind: str, token: str) -> Iterator[bool]:
    """Metrics summed over every worker, when they are configured (yields whether): each
    worker writes its counts to files in a private directory that a scrape reads, set
    here before any worker starts (prometheus-client chooses its mode when imported):
    a new one removed at the end, or the operator's own emptied of an earlier run's
    files. ``bind`` is served by a thread of this process. A worker forked from it
    leaves through this block too: only the process that set it up tears it down (the
    scrape thread is not in the fork, and waiting for it held every old worker until the
    server's graceful timeout killed it)."""
    if not (bind or token):
        yield False
        return
    given = os.environ.get(MULTIPROCESS_DIR)
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="idp-metrics-"))
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIR] = str(directory)
    scrape = None
    owner = os.getpid()
    try:
        scrape = start_scrape_server(bind, token) if bind else None
        yield True
    finally:
        if os.getpid() == owner:
            if scrape is not None:
                scrape.shutdown()
                scrape.server_close()
            if not given:
                shutil.rmtree(directory, ignore_errors=True)


def start_scrape_server(bind: str, token: str) -> WSGIServer:
    """``GET /metrics`` on ``bind`` (``HOST:PORT``), from a thread of the server's main
    process, which starts and outlives every worker."""
    from idp.metrics.web import MetricsEndpoint

    host, _, port = bind.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the parent's name
            pass

    class Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    try:
        scrape = make_server(host, int(port), MetricsEndpoint(token), server_class=Threaded,
                             handler_class=Quiet)
    except (OSError, ValueError) as error:
        raise SystemExit(f"IDP_METRICS_BIND={bind}: cannot listen there ({error})") from error
    threading.Thread(target=scrape.serve_forever, name="idp-metrics", daemon=True).start()
    log.info("metrics on http://%s/metrics", bind)
    return scrape


def worker_exited(pid: int) -> None:
    """prometheus-client's bookkeeping for a worker gone (its live gauges' files)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def serve_gunicorn(host: str, port: int, workers: int, counting: bool = False) -> None:
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "accesslog": "-",
                               "access_log_format": ACCESS_LOG_FORMAT, **WORKER_OPTIONS}.items():
                self.cfg.set(key, value)
            if counting:
                self.cfg.set("child_exit", lambda _arbiter, worker: worker_exited(worker.pid))
            if "control_socket_disable" in self.cfg.settings:
                # One control socket per user would make several servers on a host collide.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> WsgiApp:
            return worker_app()

    Gunicorn().run()


def serve_granian(host: str, port: int, workers: int, counting: bool = False) -> None:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.net import SocketSpec
    from granian.server import MPServer

    from idp.granian_workers import (
        WakeUpEvent,
        ignore_worker_signals,
        start_worker,
        stop_accepting_then_wait,
    )

    class OneListeningSocket(MPServer):
        """Every worker accepts from one socket, as gunicorn's do. On Linux granian 2.8
        gives each worker a socket of its own (SO_REUSEPORT), and the connections queued
        on a stopping worker's socket are then reset unless the host sets
        ``net.ipv4.tcp_migrate_req=1``. One shared socket is the path granian takes on
        other systems (``_init_shared_socket`` there); the version is pinned for it."""

        def _init_shared_socket(self) -> None:
            self._ssp = None
            self._shd = SocketSpec(self.bind_addr, self.bind_port, self.backlog).build()
            self._sfd = self._shd.get_fd()
            self._sso = socket.socket(fileno=self._sfd)
            self._sso.set_inheritable(True)

        def startup(self, spawn_target, target_loader):  # type: ignore[no-untyped-def]
            """The main loop's event is one a signal handler may set (WakeUpEvent)."""
            self.main_loop_interrupt = WakeUpEvent()
            super().startup(spawn_target, target_loader)

        def _spawn_worker(self, idx, target, callback_loader):  # type: ignore[no-untyped-def]
            """Each worker stops accepting before it stops and dies with the server
            (idp.granian_workers). granian has no hook for a worker's end: its watcher
            thread, which waits for it, calls ``worker_exited`` too."""
            start = partial(start_worker, self._sfd, os.getpid(), GRACEFUL_TIMEOUT, callback_loader)
            worker = super()._spawn_worker(idx, target, start)
            terminate = worker.terminate

            def stop_accepting_then_terminate() -> None:
                stop_accepting_then_wait([worker])
                terminate()

            worker.terminate = stop_accepting_then_terminate
            if counting:
                waits = worker._watcher

                def watcher() -> None:
                    try:
                        waits()
                    finally:
                        worker_exited(worker.inner.pid)

                worker._watcher = watcher
            return worker

        def _stop_workers(self) -> None:
            stop_accepting_then_wait(self.wrks)  # all at once, then one wait
            super()._stop_workers()

    ignore_worker_signals()
    OneListeningSocket(
        "idp.serving:granian_worker_app", factory=True, address=host, port=port,
        interface=Interfaces.WSGI, http=HTTPModes.http1, websockets=False, workers=workers,
        blocking_threads=THREADS, http1_settings=HTTP1Settings(header_read_timeout=TIMEOUT * 1000),
        respawn_failed_workers=True, workers_kill_timeout=GRACEFUL_TIMEOUT,
        # Our access log (AccessLog); granian's own messages to stderr, as gunicorn's.
        log_access=False, log_dictconfig={"handlers": {
            "console": {"formatter": "generic", "class": "logging.StreamHandler",
                        "stream": "ext://sys.stderr"},
            "access": {"formatter": "access", "class": "logging.StreamHandler",
                       "stream": "ext://sys.stdout"}}},
    ).serve()
