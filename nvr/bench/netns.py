"""A loopback-only network namespace for benchmarks that do WebRTC, and running asyncio
code inside one.

``Namespace.create()`` makes ``porchlight-bench-<pid>-<hex>`` holding only ``lo`` (up, plus
``127.0.0.2/8``: aioice skips 127.0.0.1 as a host candidate); ``command(argv)`` prefixes
``ip netns exec``; ``delete()`` SIGKILLs what is left inside and removes it (idempotent).
``unavailable_reason()`` says why a namespace cannot be made here (not root, no ``ip``).

``run_inside(name, main)`` runs ``asyncio.run(main())`` on a new thread that first joins
namespace ``name`` with ``setns(2)`` (network namespaces are per thread; threads and child
processes it starts inherit it), and returns the result or raises the exception;
``call_inside(name, fn)`` does the same for a plain function (Playwright's sync API).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NAME_PREFIX = "porchlight-bench"


def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def unavailable_reason() -> str | None:
    if shutil.which("ip") is None:
        return "needs the `ip` command (Debian package iproute2)"
    if os.geteuid() != 0:
        return "needs root: it creates a network namespace (ip netns add) for WebRTC"
    return None


class Namespace:
    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(cls, prefix: str = NAME_PREFIX) -> Namespace:
        ns = cls(f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}")
        _ip("netns", "add", ns.name)
        try:
            _ip("-n", ns.name, "link", "set", "lo", "up")
            _ip("-n", ns.name, "addr", "add", "127.0.0.2/8", "dev", "lo")
        except BaseException:
            ns.delete()
            raise
        return ns

    def command(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def delete(self, timeout: float = 10.0) -> None:
        if self.name not in _ip("netns", "list"):
            return
        deadline = time.monotonic() + timeout
        while pids := [int(p) for p in _ip("netns", "pids", self.name).split()]:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        _ip("netns", "delete", self.name)


def enter(name: str) -> None:
    """Move the calling thread into network namespace ``name``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {name}: {os.strerror(err)}")
    finally:
        os.close(fd)


def call_inside(name: str, fn: Callable[[], T], timeout: float = 300.0) -> T:
    """``fn()`` on a new thread that first joins namespace ``name``; its result or its
    exception. Past ``timeout`` it raises ``TimeoutError`` (the thread is a daemon; the
    namespace's ``delete`` kills what it started)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            enter(name)
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"in-{name}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"the program inside {name} ran past {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def run_inside(name: str, main: Callable[[], Coroutine[Any, Any, T]], timeout: float = 300.0) -> T:
    return call_inside(name, lambda: asyncio.run(main()), timeout)
