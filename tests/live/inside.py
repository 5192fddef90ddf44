"""Run an asyncio program on a thread that lives in a test's network namespace.

``run_inside(netns, main)`` is ``nvr.bench.netns.run_inside`` for a test's ``Netns``: a
thread joins the namespace (``setns(2)``: network namespaces are per thread) and runs
``asyncio.run(main())``. Every socket the program opens (uvicorn, aiortc's ICE, FFmpeg in
a reader thread it starts, the browser playwright launches: threads and children inherit
the namespace) is inside it, so WebRTC never touches the machine's real interfaces, while
the test itself stays ordinary pytest code. ``call_inside(netns, fn)`` is the same for a
plain function (the walkthrough drives Playwright's sync API and ``nvr serve`` from it).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from nvr.bench import netns as bench_netns
from tests.support.netns import Netns

T = TypeVar("T")


def run_inside(
    netns: Netns, main: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0
) -> T:
    return bench_netns.run_inside(netns.name, main, timeout)


def call_inside(netns: Netns, fn: Callable[[], T], timeout: float = 120.0) -> T:
    """``fn()`` on a thread inside ``netns`` (a sync program: Playwright's sync API, the
    service as a child process); its result or its exception."""
    return bench_netns.call_inside(netns.name, fn, timeout)
