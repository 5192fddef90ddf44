"""The malloc arena cap `nvr serve` applies before its camera threads start."""

from __future__ import annotations

import os
import subprocess
import sys

# Eight threads allocate (malloc-sized, below the mmap threshold) and keep it; glibc's
# malloc_info() then lists one <heap> per arena in use.
PROBE = """
import ctypes, ctypes.util, re, sys, tempfile, threading
from nvr.service.memory import limit_malloc_arenas
applied = limit_malloc_arenas() if sys.argv[1] == "cap" else None
keep = []
def work():
    for _ in range(500):
        keep.append(bytearray(20000))
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile("r") as out:
    stream = ctypes.c_void_p(libc.fopen(out.name.encode(), b"w"))
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(applied, len(re.findall("<heap nr=", out.read())))
"""


def arenas(mode: str, env: dict[str, str] | None = None) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**environ, **(env or {})},
    )
    applied, count = done.stdout.split()
    return applied, int(count)


def test_the_cap_holds_threads_to_two_arenas() -> None:
    assert arenas("cap") == ("True", 2)
    # The check can fail: without the cap the same threads spread over more arenas.
    assert arenas("none")[1] > 2


def test_the_owners_malloc_arena_max_wins() -> None:
    applied, _ = arenas("cap", {"MALLOC_ARENA_MAX": "4"})
    assert applied == "False"
