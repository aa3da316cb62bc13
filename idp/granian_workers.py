"""How a granian worker of ``idp serve`` stops: it stops accepting connections a while
before it is told to shut down, and it dies with the server that started it.

granian 2.8 stops a worker on SIGTERM in one step: its accept loop ends and, at once,
every open connection is told to shut down gracefully (``acceptor_impl_loop`` and
``conn_handle_h1_impl`` in granian's src/workers.rs). hyper closes a connection from which
it has read nothing yet without an answer (``Dispatcher::disable_keep_alive`` in hyper 1.11's
src/proto/h1/dispatch.rs: ``has_initial_read_write_state``), so a request whose connection
the stopping worker had just accepted was lost: the client saw the connection closed.
Here the server first asks the worker to stop accepting (STOP_ACCEPTING), waits DRAIN
seconds for the requests of the connections it holds to arrive, and only then sends
SIGTERM, which finds the request of every connection whose client sent it within that
second read: hyper answers it, with ``Connection: close``, before the worker exits.

A worker stops accepting by putting a listening socket of its own in place of the shared
one under the same descriptor number (granian's accept loop holds the number, not the
socket): its next accept finds nothing, and the other workers take every new connection.
Both rely on granian's internals as of the version pyproject.toml pins.

gunicorn's workers exit when their server dies; granian's have no such check, and a worker
of a server killed with SIGKILL lived on, orphaned and serving. Each worker asks Linux to
signal it (SERVER_GONE) when the server's main thread ends, and then stops as it would on a
restart, at most GRACEFUL_TIMEOUT seconds later.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

STOP_ACCEPTING = signal.SIGUSR1
SERVER_GONE = signal.SIGUSR2
DRAIN = 1.0  # seconds between a worker's last accept and its graceful shutdown
_PR_SET_PDEATHSIG = 1  # prctl(2)


def ignore_worker_signals() -> None:
    """In the server's main process, before it starts any worker: a worker inherits these
    dispositions, so a signal that reaches it before it has set its handlers (while it
    imports the app) is ignored instead of killing it."""
    for signum in (STOP_ACCEPTING, SERVER_GONE):
        signal.signal(signum, signal.SIG_IGN)


def start_worker(listening_fd: int, server_pid: int, graceful_timeout: float,
                 load: Callable[[], Any]) -> Any:
    """Run first in every worker, before it loads the app: the handlers of both signals,
    then the request to be told when the server dies."""
    # Until granian sets its own, a forked worker has the server's handlers, which only
    # mark the server's copy as stopping: a worker told to stop while it loaded the app
    # served on until the server killed it. Without a connection yet, it may just die.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(STOP_ACCEPTING, lambda *_: stop_accepting(listening_fd))

    def server_gone(*_: object) -> None:
        stop_accepting(listening_fd)
        deadline = threading.Timer(graceful_timeout, os._exit, (1,))
        deadline.daemon = True
        deadline.start()
        os.kill(os.getpid(), signal.SIGTERM)  # granian's own graceful stop

    signal.signal(SERVER_GONE, server_gone)
    try:
        asked = ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(SERVER_GONE), 0, 0, 0) == 0
    except AttributeError:  # not Linux: no prctl
        asked = False
    if asked and os.getppid() != server_pid:
        server_gone()  # the server died before the request was made
    return load()


def stop_accepting(listening_fd: int) -> None:
    """Put a listening socket of the worker's own in place of the shared one. It listens on
    a loopback port nobody is told of (a connection made to it anyway is served like one to
    the server's own port); listening, so that accepting on it finds nothing instead of
    failing, which granian's accept loop would retry without pause."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        placeholder.listen(1)
        placeholder.setblocking(False)
        os.dup2(placeholder.fileno(), listening_fd)


def stop_accepting_then_wait(workers: Iterable[Any]) -> None:
    """In the server: ask each live worker (granian's WorkerProcess) to stop accepting,
    then wait DRAIN seconds once for all of them. A worker asked is marked as stopped by
    its parent, as granian marks it when it sends SIGTERM."""
    asked = []
    for worker in workers:
        if worker.is_alive() and not getattr(worker, "accepting_stopped", False):
            worker.interrupt_by_parent = True
            worker.accepting_stopped = True
            os.kill(worker.inner.pid, STOP_ACCEPTING)
            asked.append(worker)
    if asked:
        time.sleep(DRAIN)
