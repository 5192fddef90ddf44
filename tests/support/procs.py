"""Child processes for the suite's real components: started, awaited, stopped for sure.

Contract:

- ``ManagedProcess(argv, log_path=...)`` starts ``argv`` in a session of its own (so its
  whole process group can be signalled), stdin closed, stdout a pipe the test reads,
  stderr appended to ``log_path`` (a file, so a chatty child never blocks on a full pipe
  and the log can be quoted when something fails).
- ``wait_for_line(prefix, timeout)`` reads stdout until a line starting with ``prefix``
  and returns it, or raises ``ProcessStartError`` (with the log's tail) when the child
  exits first or the deadline passes. Readiness is always this handshake, never a sleep.
- ``kill()`` is SIGKILL to the group (a crash); ``stop()`` is SIGTERM, then SIGKILL after a
  grace period; both reap the child and close the pipe, so no zombies or ResourceWarnings.
  ``freeze()``/``thaw()`` SIGSTOP/SIGCONT it (a hung device that keeps its sockets open).
- ``require(reason)`` skips a test whose real component cannot run here, except in CI
  (``CI=true``), where CI installed everything, so a missing piece fails the run instead.
- ``ProcessRegistry`` records every process a fixture starts; the session fixture
  ``process_registry`` stops whatever is still running at the end and fails the run if
  anything was (a fixture that forgot its cleanup), so no test leaves a stray process.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest


class ProcessStartError(RuntimeError):
    """A child did not report readiness: it exited, or the deadline passed."""


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group ``pgid``, from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited while we looked
            continue
        # Fields after "pid (comm)": state, ppid, pgrp, ...; comm may contain spaces.
        state, _ppid, pgrp = text[text.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members


def group_alive(pgid: int) -> bool:
    """Whether any live process is left in process group ``pgid``."""
    return bool(group_members(pgid))


def require(reason: str | None) -> None:
    """Skip (or in CI fail) with ``reason`` unless it is ``None``; see the module docstring."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must provide this: {reason}", pytrace=False)
    pytest.skip(reason)


class ManagedProcess:
    """One child process in its own process group; see the module docstring."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
                env=None if env is None else dict(env),
                cwd=cwd,
            )
        self._buffer = b""
        self._done = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        """Whether the child has not exited (checked without reaping it)."""
        return not self._exited()

    @property
    def done(self) -> bool:
        """Whether the child was stopped or killed and reaped through this object."""
        return self._done

    def _exited(self) -> bool:
        if self.popen.returncode is not None:
            return True
        # WNOWAIT leaves an exited child a zombie: its pid, hence its process group id,
        # stays ours until we reap it, so signalling the group can never hit a stranger.
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_line(self, prefix: str, timeout: float) -> str:
        """Return the first stdout line starting with ``prefix``; see the module docstring."""
        stdout = self.popen.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while True:
                while b"\n" in self._buffer:
                    raw, self._buffer = self._buffer.split(b"\n", 1)
                    line = raw.decode(errors="replace").strip()
                    if line.startswith(prefix):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._start_error(f"no {prefix!r} line within {timeout:.0f} s")
                if selector.select(remaining):
                    chunk = os.read(stdout.fileno(), 65536)
                    if not chunk:  # stdout closed: the child is gone (or hopeless)
                        self._finish(grace=0.0)
                        raise self._start_error(
                            f"exited with status {self.popen.returncode} before {prefix!r}"
                        )
                    self._buffer += chunk

    def _start_error(self, what: str) -> ProcessStartError:
        return ProcessStartError(
            f"{' '.join(self.argv[:3])} ...: {what}; log {self.log_path}:\n{self.log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL the whole group, as a crash or power cut would, and reap the child."""
        self._finish(grace=0.0)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the group, SIGKILL what is left after ``grace`` seconds; idempotent."""
        self._finish(grace)

    def _finish(self, grace: float) -> None:
        if self._done:
            return
        if self.popen.returncode is None:  # not reaped: the group id is still ours
            if grace > 0 and not self._exited():
                self._signal_group(signal.SIGTERM)
                self._signal_group(signal.SIGCONT)  # a frozen child must see the SIGTERM
                deadline = time.monotonic() + grace
                while not self._exited() and time.monotonic() < deadline:
                    time.sleep(0.01)
            # Also takes down anything the child left behind in its group.
            self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)
        deadline = time.monotonic() + 10
        while group_alive(self.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # SIGKILLed grandchildren take a moment to exit
        self._done = True
        if self.popen.stdout is not None:
            self.popen.stdout.close()

    def freeze(self) -> None:
        """SIGSTOP the group: alive, connections open, nothing sent (a hung device)."""
        if not self._exited():
            self._signal_group(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT the group after ``freeze``."""
        if not self._exited():
            self._signal_group(signal.SIGCONT)

    def _signal_group(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)


class ProcessRegistry:
    """Every process the suite's fixtures started, for the end-of-session check."""

    def __init__(self) -> None:
        self._processes: list[ManagedProcess] = []

    def start(
        self,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> ManagedProcess:
        process = ManagedProcess(argv, log_path=log_path, env=env, cwd=cwd)
        self._processes.append(process)
        return process

    def __iter__(self) -> Iterator[ManagedProcess]:
        return iter(list(self._processes))

    def leftovers(self) -> list[ManagedProcess]:
        """Processes no fixture has stopped yet that are still running."""
        return [p for p in self._processes if not p.done and p.running]

    def stop_all(self) -> list[ManagedProcess]:
        """Stop and reap everything not stopped yet; return the ones that were running."""
        left = self.leftovers()
        for process in self._processes:
            process.stop(grace=2.0)
        return left


@pytest.fixture(scope="session")
def process_registry() -> Iterator[ProcessRegistry]:
    """The session's registry of child processes; fails the run if any outlive their test."""
    registry = ProcessRegistry()
    yield registry
    left = registry.stop_all()
    if left:
        names = ", ".join(f"pid {p.pid} ({' '.join(p.argv[:4])})" for p in left)
        pytest.fail(f"processes outlived their fixtures (now killed): {names}")
