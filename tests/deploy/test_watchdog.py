"""The service under a systemd-style watchdog: a real ``nvr demo`` process, a real datagram
socket as ``NOTIFY_SOCKET``, and a disk that really hangs.

The demo records to an ext4 filesystem on a loop device. ``fsfreeze`` then makes every
write to it block, as a failing SD card does: the recorder thread blocks in its write,
the watchdog notices that it stopped making progress, says so (``STATUS=stalled ...``)
and stops sending ``WATCHDOG=1`` (systemd would restart the service ``WatchdogSec``
later). Thawed, the recorder goes on and so do the pings. A camera that merely goes
offline is not a stall (docs/design/appliance.md, "Watchdog"): that is the recorder's
outage handling, tested in tests/record.

Needs root (loop device, mount, fsfreeze); skips elsewhere (fails in CI).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.procs import require

WATCHDOG_USEC = 6_000_000  # WatchdogSec=6: a ping every 1.5 s, a stall after 3 s
PING_EVERY = WATCHDOG_USEC / 4 / 1e6
QUIET = 4 * PING_EVERY  # this long without a ping: the pings have stopped
DEADLINE = 90.0  # generous bound for each step on a loaded 2-core machine (not asserted)


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "a loop-mounted ext4 and fsfreeze need root"
    for tool in ("mkfs.ext4", "fsfreeze", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture
def freezable_fs(tmp_path: Path) -> Iterator[Path]:
    """A fresh 256 MB ext4 on a loop device, mounted; always thawed and unmounted."""
    require(_unavailable())
    image, mount = tmp_path / "disk.img", tmp_path / "disk"
    mount.mkdir()
    with image.open("wb") as f:
        f.truncate(256 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    done = subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True)
    require(None if done.returncode == 0 else f"cannot loop-mount: {done.stderr.decode()}")
    try:
        yield mount
    finally:
        subprocess.run(["fsfreeze", "-u", str(mount)], capture_output=True)  # if still frozen
        subprocess.run(["umount", str(mount)], check=True)


class Messages:
    """What the service sent to our NOTIFY_SOCKET, one entry per assignment, with when."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seen: list[tuple[float, str]] = []

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return
            now = time.monotonic()
            self.seen += [(now, line) for line in data.decode().splitlines()]

    def wait_for(self, predicate: Callable[[str], bool], what: str, start: int = 0) -> int:
        """Index of the first message from ``start`` on that matches."""
        deadline = time.monotonic() + DEADLINE
        while True:
            for i in range(start, len(self.seen)):
                if predicate(self.seen[i][1]):
                    return i
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {DEADLINE} s: {self.seen[start:]}")
            self.pump(0.5)

    def wait_quiet(self, start: int) -> None:
        """Until no WATCHDOG=1 has come for QUIET seconds (after message ``start``)."""
        deadline = time.monotonic() + DEADLINE
        while True:
            pings = [t for t, m in self.seen[start:] if m == "WATCHDOG=1"]
            last = pings[-1] if pings else self.seen[start][0]
            if time.monotonic() - last >= QUIET:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the pings did not stop: {self.seen[start:]}")
            self.pump(0.5)


def test_watchdog_pings_stop_while_the_disk_hangs_and_resume_after(
    tmp_path: Path, freezable_fs: Path
) -> None:
    address = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(address))
    messages = Messages(listener)
    pw = tmp_path / "pw"
    pw.write_text("sunny-Meadow-42-quietly\n")
    pw.chmod(0o600)
    data = freezable_fs / "data"
    env = {
        **os.environ,
        "NOTIFY_SOCKET": str(address),
        "WATCHDOG_USEC": str(WATCHDOG_USEC),
    }
    env.pop("WATCHDOG_PID", None)
    log = tmp_path / "service.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "nvr", "demo"),
                *("--data-dir", str(data), "--port", "0"),
                *("--passphrase-file", str(pw), "--work-factor", "15"),
            ],
            stdout=err,
            stderr=err,
            env=env,
        )
    frozen = False
    try:
        ready = messages.wait_for(lambda m: m == "READY=1", "READY=1")
        assert messages.seen[ready + 1][1].startswith("STATUS=serving https://127.0.0.1:")
        # Recording for real: footage reaches the disk, and the watchdog pings.
        deadline = time.monotonic() + DEADLINE
        while not any(p.is_file() for p in (data / "segments").rglob("*")):
            assert time.monotonic() < deadline, f"no footage written: {log.read_text()}"
            messages.pump(0.5)
        first = messages.wait_for(lambda m: m == "WATCHDOG=1", "a ping", ready)
        messages.wait_for(lambda m: m == "WATCHDOG=1", "a second ping", first + 1)

        subprocess.run(["fsfreeze", "-f", str(freezable_fs)], check=True)
        frozen = True
        mark = len(messages.seen)
        stall = messages.wait_for(
            lambda m: m.startswith("STATUS=stalled: recorder demo-doorbell"), "stall", mark
        )
        messages.wait_quiet(stall)
        assert proc.poll() is None  # still running: systemd would be the one to restart it

        subprocess.run(["fsfreeze", "-u", str(freezable_fs)], check=True)
        frozen = False
        back = messages.wait_for(
            lambda m: m == "STATUS=running: no recorder stalled", "recovery", stall + 1
        )
        messages.wait_for(lambda m: m == "WATCHDOG=1", "a ping after the thaw", back)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        messages.pump(0.5)
        assert any(m == "STOPPING=1" for _, m in messages.seen[back:])
    finally:
        if frozen:
            subprocess.run(["fsfreeze", "-u", str(freezable_fs)], check=True)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()
    text = log.read_text()
    assert "watchdog: stalled: recorder demo-doorbell" in text
    assert "watchdog: no longer stalled" in text
