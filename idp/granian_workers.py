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
of a server killed with SIGKILL lived on, orphaned and serving. Each worker has a thread
that notices when its server is gone and then stops it as a restart would, at most
GRACEFUL_TIMEOUT seconds later.

Twice in about twenty runs of tests/test_run_demo.py beside a benchmark, a stop was missed:
a server whose workers had died of a Ctrl-C sat on, having logged nothing more; a worker of a
killed server did not stop within 30 s, its handler apparently never run. What was seen fits a
signal handler that never ran or never returned in a waiting main thread, and two ways were
found; both are closed here. granian's main loop waits on a ``threading.Event`` that its
signal handlers set: a signal taken by another thread of the server (a watcher, waiting for
a worker) does not wake that wait, and a handler that runs while the main thread holds the
Event's lock (it is not reentrant) deadlocks. The loop waits on a ``WakeUpEvent`` instead: a
pipe, with no lock, which is also Python's wakeup descriptor. And no handler is relied on to
stop a worker whose server is gone: a thread of the worker checks, and tells the worker's
main thread itself.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

STOP_ACCEPTING = signal.SIGUSR1
DRAIN = 1.0  # seconds between a worker's last accept and its graceful shutdown
SERVER_CHECK = 0.5  # seconds between a worker's checks that its server is still there


def ignore_worker_signals() -> None:
    """In the server's main process, before it starts any worker: a worker inherits this
    disposition, so a signal that reaches it before it has set its handler (while it
    imports the app) is ignored instead of killing it."""
    signal.signal(STOP_ACCEPTING, signal.SIG_IGN)


class WakeUpEvent:
    """``threading.Event``'s ``set``, ``clear``, ``is_set`` and ``wait`` over a pipe, for the
    server's main loop: ``set`` writes a byte and takes no lock, so a signal handler may call
    it whatever the thread it interrupted holds. Made in the main thread, it is also
    Python's wakeup descriptor, so that a signal received by another thread wakes ``wait``
    (the main thread then runs the handler) instead of waiting for the next worker event."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._flag = False
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def set(self) -> None:
        self._flag = True
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:
            pass  # the pipe is full: wait() will find a byte anyway

    def clear(self) -> None:
        self._flag = False
        self._drain()

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._flag:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            if select.select([self._read], [], [], left)[0]:
                self._drain()
        return self._flag

    def _drain(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass


def start_worker(listening_fd: int, server_pid: int, graceful_timeout: float,
                 load: Callable[[], Any]) -> Any:
    """Run first in every worker, before it loads the app: its handler of STOP_ACCEPTING
    and the thread that stops it if its server is gone."""
    # A forked worker inherits the server's wakeup descriptor (WakeUpEvent): its signals
    # would wake the server's loop.
    signal.set_wakeup_fd(-1)
    # Until granian sets its own, a forked worker has the server's handlers, which only
    # mark the server's copy as stopping: a worker told to stop while it loaded the app
    # served on until the server killed it. Without a connection yet, it may just die.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(STOP_ACCEPTING, lambda *_: stop_accepting(listening_fd))
    threading.Thread(target=_stop_once_server_gone, name="server-watch", daemon=True,
                     args=(server_pid, listening_fd, graceful_timeout)).start()
    return load()


def _stop_once_server_gone(server_pid: int, listening_fd: int, graceful_timeout: float) -> None:
    """A worker's watch: once its server is gone (the worker was handed to another parent),
    stop accepting and stop as on a restart: SIGTERM to the main thread itself, where
    granian's handler runs (a signal to the process may be taken by another thread, and the
    main thread, waiting, would not run the handler), and exit after ``graceful_timeout``
    whatever happened."""
    while os.getppid() == server_pid:
        time.sleep(SERVER_CHECK)
    stop_accepting(listening_fd)
    signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)  # type: ignore[arg-type]
    time.sleep(graceful_timeout)
    os._exit(1)


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
