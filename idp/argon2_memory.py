"""argon2id verifications in memory the worker keeps, instead of 19 MiB mapped afresh for each.

``idp serve`` fixes glibc's mmap threshold (``serving.return_large_blocks``) so that each
of a worker's threads does not keep an argon2id buffer of its own; with it, every
verification mapped a new 19 MiB and faulted in its 4,865 pages: 12.8 ms of system CPU on
top of 23 ms of hashing (docs/performance.md). The Argon2 library lets its caller supply
the memory (``allocate_cbk``/``free_cbk`` in ``argon2_context``, reached through
argon2-cffi's low-level binding): a verification here runs in one of the worker's blocks,
one per verification allowed at once (``IDP_ARGON2_CONCURRENCY``), allocated at its first
use and kept. The result is compared with the stored hash in constant time, as
argon2-cffi's ``verify`` does.

A block is an anonymous mapping aligned to 2 MiB and advised for transparent huge pages
(``MADV_HUGEPAGE``; Debian's default mode, ``madvise``, gives them only to memory that asks):
argon2id's passes over 19 MiB then walk ten pages instead of 4,865, and the requests the
worker's other threads serve on the same core meanwhile evict far fewer of its TLB
entries (docs/performance.md: about 1.5 ms less per verification alone on one core, about
3 ms less beside three threads of Python, 1–1.3 ms less in a worker serving four logins at
once). The block is a whole number of huge pages (20 MiB for m=19 MiB). Where the kernel
gives no huge pages it works as before, in small pages.
"""

from __future__ import annotations

import base64
import hmac
import mmap
import queue
from typing import Any

from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError
from argon2.low_level import ffi, lib

_OK = 0
_HUGE_PAGE = 2 << 20  # a transparent huge page on x86-64 (and arm64 with 4 KiB pages)


class _Block:
    """One verification's memory, grown to the largest asked for and then kept."""

    def __init__(self) -> None:
        self.mapping: mmap.mmap | None = None
        self.memory: Any = None
        self.length = 0

        @ffi.callback("int(uint8_t **, size_t)")
        def allocate(pointer: Any, length: int) -> int:
            if self.memory is None or self.length < length:
                self._map(length)
            pointer[0] = self.memory
            return _OK

        @ffi.callback("void(uint8_t *, size_t)")
        def free(_pointer: Any, _length: int) -> None:
            """Kept for the next verification."""

        self.allocate, self.free = allocate, free  # alive as long as the block

    def _map(self, length: int) -> None:
        """At least ``length`` bytes, from a huge page's boundary, advised for huge pages."""
        self.memory = self.mapping = None  # an older, smaller block goes once unreferenced
        advised = -(-length // _HUGE_PAGE) * _HUGE_PAGE  # whole huge pages
        mapping = mmap.mmap(-1, advised + _HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        start = -int(ffi.cast("uintptr_t", ffi.from_buffer("uint8_t[]", mapping))) % _HUGE_PAGE
        try:
            mapping.madvise(mmap.MADV_HUGEPAGE, start, advised)
        except (AttributeError, OSError):  # no such advice here: small pages, as before
            pass
        self.mapping, self.length = mapping, advised
        self.memory = ffi.from_buffer("uint8_t[]", mapping) + start


class KeptMemory:
    """Verifies encoded argon2 hashes (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``) in
    ``blocks`` kept blocks; the caller allows at most that many verifications at once."""

    def __init__(self, blocks: int) -> None:
        self._free: queue.SimpleQueue[_Block] = queue.SimpleQueue()
        for _ in range(max(1, blocks)):
            self._free.put(_Block())

    def verify(self, encoded: str, password: str) -> bool:
        """True when ``password`` (already normalised) gives ``encoded``; False for a wrong
        password and for a hash that cannot be read."""
        try:
            parameters = extract_parameters(encoded)
            salt_b64, digest_b64 = encoded.split("$")[-2:]
            salt, digest = _decode(salt_b64), _decode(digest_b64)
        except (InvalidHashError, ValueError):
            return False
        secret = password.encode("utf-8")
        out = ffi.new("uint8_t[]", len(digest))
        block = self._free.get()
        try:
            context = ffi.new("argon2_context *", {
                "out": out, "outlen": len(digest),
                "pwd": ffi.from_buffer(secret), "pwdlen": len(secret),
                "salt": ffi.from_buffer(salt), "saltlen": len(salt),
                "secret": ffi.NULL, "secretlen": 0, "ad": ffi.NULL, "adlen": 0,
                "t_cost": parameters.time_cost, "m_cost": parameters.memory_cost,
                "lanes": parameters.parallelism, "threads": parameters.parallelism,
                "version": parameters.version, "allocate_cbk": block.allocate,
                "free_cbk": block.free, "flags": lib.ARGON2_DEFAULT_FLAGS})
            if lib.argon2_ctx(context, parameters.type.value) != _OK:
                return False
        finally:
            self._free.put(block)
        return hmac.compare_digest(bytes(ffi.buffer(out, len(digest))), digest)


def _decode(text: str) -> bytes:
    """The PHC string's unpadded standard base64."""
    if not text or not text.isascii():
        raise ValueError("not base64")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
