"""Run an asyncio program on a thread that lives in a test's network namespace.

``run_inside(netns, main)`` starts a thread, moves *that thread* into ``netns``
(``setns(2)``: a network namespace is per thread) and runs ``asyncio.run(main())`` there,
returning its result or raising its exception. Every socket the program opens (uvicorn,
aiortc's ICE, FFmpeg in a reader thread it starts, the browser playwright launches: threads
and children inherit the namespace) is inside the namespace, so WebRTC never touches the
machine's real interfaces, while the test itself stays ordinary pytest code.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from tests.support.netns import Netns

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def _enter(netns: Netns) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns.name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {netns.name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def run_inside(
    netns: Netns, main: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0
) -> T:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            _enter(netns)
            outcome["value"] = asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"in-{netns.name}")
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the program inside {netns.name} ran past {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]
