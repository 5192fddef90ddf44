"""Helpers for the age-format tests: in-memory files and the real ``age`` CLI.

``age_cli`` runs the stock age binary (Debian package ``age``), skipping the test when it
is not installed; ``age_tty`` runs it on a pseudo-terminal, because age reads
passphrases only from the terminal, and types each answer when it sees a prompt.
"""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from nvr.crypto import Recipient, encrypt_stream

AgeCli = Callable[..., subprocess.CompletedProcess[bytes]]
AgeTty = Callable[[Sequence[str], Sequence[bytes]], tuple[int, bytes]]
Seal = Callable[[bytes, Sequence[Recipient]], bytes]


@pytest.fixture
def seal() -> Seal:
    """Encrypt in one ``write`` call, in memory."""

    def run(data: bytes, recipients: Sequence[Recipient]) -> bytes:
        out = io.BytesIO()
        with encrypt_stream(out, recipients) as writer:
            writer.write(data)
        return out.getvalue()

    return run


def _reap(pid: int) -> int:
    """Wait for our child up to 20 s, then kill it (it is stuck at a prompt)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        reaped, status = os.waitpid(pid, os.WNOHANG)
        if reaped:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


@pytest.fixture
def age_cli(age_required: None) -> AgeCli:

    def run(*args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        argv = ["age", *map(str, args)]
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=30, check=False)

    return run


@pytest.fixture
def age_tty(age_cli: AgeCli) -> AgeTty:
    def run(argv: Sequence[str], answers: Sequence[bytes]) -> tuple[int, bytes]:
        pid, fd = pty.fork()
        if pid == 0:  # child: age, with the pty as its controlling terminal
            os.execvp(argv[0], list(argv))  # noqa: S606 (list argv, no shell)
        transcript, sent = b"", 0
        try:
            while select.select([fd], [], [], 20)[0]:
                try:
                    data = os.read(fd, 1024)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                transcript += data
                if sent < len(answers) and transcript.lower().count(b"passphrase") > sent:
                    os.write(fd, answers[sent] + b"\n")
                    sent += 1
        finally:
            status = _reap(pid)
            os.close(fd)
        return os.waitstatus_to_exitcode(status), transcript

    return run
