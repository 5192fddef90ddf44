"""Process-wide memory settings the service applies before its threads start.

glibc gives threads their own malloc arenas (up to 8 per core) so they do not contend for
one lock. The service runs a reader and a recorder thread per camera (and a motion worker
with motion on), each allocating packets and buffers, so a box with a few cameras ends up
with many arenas, each holding memory freed but not returned. On the record benchmark
this cost about 11 MB at 4 cameras (docs/performance.md, "Recording"). The service's
threads mostly wait on I/O, so two arenas lose nothing measurable in throughput.

``limit_malloc_arenas()`` does what ``MALLOC_ARENA_MAX=2`` in the environment would, from
inside the process (a systemd unit can still set the variable: the owner's value wins).
It must run before the threads it is meant for exist; arenas already made stay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt() parameter number (malloc.h)
SERVICE_ARENAS = 2


def limit_malloc_arenas(arenas: int = SERVICE_ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas``; whether the cap was applied. Nothing is
    done when ``MALLOC_ARENA_MAX`` is set, or on a C library without ``mallopt`` (musl)."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        log.debug("no mallopt() in this C library; malloc arenas left as they are")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))
