"""Running the app under gunicorn from our own console scripts."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # One control socket per user would make several servers on a host collide.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        return self.factory()


# Gunicorn's default logs the full request line: query strings carry personal data
# (``login_hint`` = a DNI, ``id_token_hint`` = an ID token with its claims). Path only, and
# the request id instead of the Referer.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %({x-request-id}o)s'


# Threaded workers: a browser's speculative connection that never sends a request would
# otherwise hold a sync worker for the whole timeout when no proxy buffers.
WORKER_OPTIONS = {"worker_class": "gthread", "threads": 4, "timeout": 30, "graceful_timeout": 10}


# glibc's M_MMAP_THRESHOLD (mallopt parameter -3); see return_large_blocks().
_M_MMAP_THRESHOLD = -3
LARGE_BLOCK = 1 << 20


def return_large_blocks() -> bool:
    """Make glibc give blocks of 1 MiB and more back to the system as soon as they are freed.

    By default glibc raises its mmap threshold after the first large block is freed, so the
    next argon2id buffer (19 MiB) comes from the heap of whichever thread asked, and every
    thread's heap keeps its own copy: a worker with 4 threads held about 76 MB more than a
    single-threaded one. A fixed threshold keeps such blocks mmapped and unmapped on free.
    Set in the master before it forks; a no-op (False) where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))
    except (OSError, AttributeError):
        return False


def serve_app(factory: Callable[[], Any], host: str, port: int, workers: int) -> None:
    return_large_blocks()
    _Server(factory, {"bind": f"{host}:{port}", "workers": workers, "accesslog": "-",
                      "access_log_format": ACCESS_LOG_FORMAT, **WORKER_OPTIONS}).run()
