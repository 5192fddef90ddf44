"""Loopback-only network namespaces for tests that multicast or need an isolated network.

Contract:

- ``Netns.create()`` makes a namespace named ``porchlight-test-<pid>-<random>`` holding
  only ``lo``: up, multicast on, ``224.0.0.0/4`` routed to it, and ``127.0.0.2/8`` added
  (aioice skips 127.0.0.1 as a host candidate). Nothing links it to the machine's real
  interfaces, so what a test sends inside cannot leave it.
- ``command(argv)`` is ``argv`` prefixed with ``ip netns exec NAME``; ``run`` and
  ``popen`` run that (``run`` captures text output, raises on failure, has a timeout).
- ``delete()`` SIGKILLs every process still inside (``ip netns pids``), waits until none
  is left, then deletes the namespace. It is idempotent and the ``netns`` fixture always
  calls it. A namespace left by a killed test run (its creator's pid is gone) is deleted
  by the next session (any run's: two runs, or two xdist workers, may remove the same
  one at once; the one that finds it gone already does not mind).
- Where a namespace cannot be made (not root, no ``ip``, ``ip netns add`` refused),
  the ``netns`` fixture skips and says why (in CI it fails): tests never fall back to
  the real network.
  Once one exists, a failure to set it up is an error, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from tests.support.procs import require

NAME_PREFIX = "porchlight-test"
_NAME_RE = re.compile(rf"^{NAME_PREFIX}-(\d+)-[0-9a-f]+$")
_SETUP = (
    ("ip", "link", "set", "lo", "up"),
    ("ip", "link", "set", "lo", "multicast", "on"),
    ("ip", "route", "add", "224.0.0.0/4", "dev", "lo"),
    ("ip", "addr", "add", "127.0.0.2/8", "dev", "lo"),
)


class NetnsError(RuntimeError):
    """An ``ip netns`` command failed."""


class NetnsUnavailable(NetnsError):
    """The machine refused to create a namespace at all (no privilege, no kernel support)."""


def _ip(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


def list_namespaces() -> list[str]:
    """Names of all network namespaces on the machine."""
    out = _ip("netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_unavailable_reason() -> str | None:
    """Why this machine cannot give a test a namespace, or ``None`` if it can."""
    if shutil.which("ip") is None:
        return "network namespace tests need the `ip` command (Debian package iproute2)"
    if os.geteuid() != 0:
        return "network namespace tests need root (ip netns add)"
    return None


def remove_stale_namespaces() -> list[str]:
    """Delete namespaces this suite created in runs that no longer exist; return them."""
    removed = []
    for name in list_namespaces():
        match = _NAME_RE.match(name)
        if match is None or Path(f"/proc/{match.group(1)}").exists():
            continue
        stale = Netns(name)
        try:
            stale.delete()
        except NetnsError:
            if stale.exists:
                raise
            continue  # another run (or worker) deleted it first
        removed.append(name)
    return removed


class Netns:
    """A loopback-only network namespace; see the module docstring."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(cls) -> Netns:
        name = f"{NAME_PREFIX}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            _ip("netns", "add", name)
        except NetnsError as exc:
            raise NetnsUnavailable(str(exc)) from exc
        netns = cls(name)
        try:
            for argv in _SETUP:
                netns.run(argv)
        except BaseException:
            netns.delete()
            raise
        return netns

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 60.0, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside, capturing text output; raise if it fails and ``check``."""
        result = subprocess.run(
            self.command(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise NetnsError(
                f"in {self.name}: {' '.join(argv)} exited {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside; the caller waits for it (``delete`` kills it at the latest)."""
        return subprocess.Popen(self.command(argv), **kwargs)

    def pids(self) -> list[int]:
        """Processes whose network namespace is this one."""
        try:
            out = _ip("netns", "pids", self.name).stdout
        except NetnsError:
            return []
        return [int(pid) for pid in out.split()]

    @property
    def exists(self) -> bool:
        return self.name in list_namespaces()

    def delete(self, timeout: float = 10.0) -> None:
        """Kill every process inside, then delete the namespace; idempotent."""
        if not self.exists:
            return
        deadline = time.monotonic() + timeout
        while pids := self.pids():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise NetnsError(f"processes {pids} in {self.name} survived SIGKILL")
            time.sleep(0.02)
        _ip("netns", "delete", self.name)

    def __enter__(self) -> Netns:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.delete()


@pytest.fixture(scope="session")
def _netns_session() -> None:
    require(netns_unavailable_reason())
    remove_stale_namespaces()


@pytest.fixture
def netns(_netns_session: None) -> Iterator[Netns]:
    """A fresh loopback-only namespace, deleted (with anything left inside) afterwards."""
    try:
        namespace = Netns.create()
    except NetnsUnavailable as exc:
        require(f"cannot create a network namespace here: {exc}")
        raise
    with namespace:
        yield namespace
