"""Files that hold a secret or personal data: readable by their owner only from the moment
they exist, whatever the process's umask, and complete when they appear.

Writing a file and then chmod-ing it leaves a moment in which it has the umask's mode
(0644 by default): long enough for another local user to open it and keep reading.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger("idp")

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """``path``, created 0700 when missing (an existing directory is left as it is: it may
    be shared, like /tmp); its missing parents get the umask's mode."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    return path


def _written_aside(path: Path, data: bytes) -> str:
    """A new file beside ``path`` (0600, O_EXCL: mkstemp) holding ``data``, on disk."""
    fd, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(aside)
        raise
    return aside


def create_private(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data``, 0600; False, writing nothing, if it already exists.
    Written aside and linked into place, so that a process starting at the same moment
    finds either no file or the whole of it, never an empty one."""
    aside = _written_aside(path, data)
    try:
        os.link(aside, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(aside)
    return True


def replace_private(path: Path, data: bytes) -> None:
    """Write ``path`` (a new file or a new version of it) holding ``data``, 0600."""
    aside = _written_aside(path, data)
    try:
        os.replace(aside, path)
    except BaseException:
        os.unlink(aside)
        raise


def create_empty_private(path: Path) -> bool:
    """Create an empty ``path``, 0600 (O_EXCL); False if it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def tighten(path: Path) -> None:
    """An existing file that others may read or write (made by an older version, copied,
    restored from a backup) becomes 0600, and the log says so; a missing one is skipped."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return
    if mode & 0o077:
        path.chmod(mode & PRIVATE_FILE)
        log.warning("%s was open to other users (mode %03o): now to its owner only (%03o)",
                    path, mode, mode & PRIVATE_FILE)
