"""How `idp serve` runs the app: the memory a threaded worker keeps after argon2id."""

from __future__ import annotations

import subprocess
import sys

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
           for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")))
"""


def peak_kib(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", FOUR_THREADS, mode], capture_output=True,
                          text=True, timeout=120, check=True)
    return int(done.stdout)


def test_a_threaded_worker_does_not_keep_an_argon2_buffer_per_thread():
    # Without the setting each thread's heap keeps its own 19 MiB buffer (about 57 MiB more
    # for four threads); with it, one buffer at a time is all the process ever holds.
    assert peak_kib("served") < peak_kib("default") - 30 * 1024
