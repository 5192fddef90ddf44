"""Disk and database faults against a real ``nvr demo`` / ``nvr serve`` process
(docs/design/faults.md, "Disk full", "Read-only data directory", "Database locked").

- Disk full: the data directory is a 64 MiB ext4 on a loop device. A ballast file first
  leaves little room (retention evicts the oldest footage and recording goes on), then
  takes every free block (writes fail with ENOSPC: the store evicts what it can, raises
  the ``disk_full`` alarm, the recorder pauses with a ``disk_full`` gap); with the ballast
  gone, recording resumes. Every segment left still verifies (``nvr storage verify``).
- Read-only data directory: ``nvr serve`` refuses, naming the directory, exit non-zero.
- Database locked: another process holds ``BEGIN EXCLUSIVE`` on the index for longer than
  the busy timeout; the service survives and records on.

Needs root (loop device, mount); skips elsewhere (fails in CI, which runs as root).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.procs import require

DEADLINE = 120.0  # generous bound for each step on a loaded 2-core machine (not asserted)
PASSPHRASE = "sunny-Meadow-42-quietly"


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "a loop-mounted ext4 needs root"
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture
def loop_fs(tmp_path: Path) -> Iterator[Path]:
    """A fresh 64 MiB ext4 (no root-reserved blocks) on a loop device; always unmounted."""
    require(_unavailable())
    image, mount = tmp_path / "disk.img", tmp_path / "disk"
    mount.mkdir()
    with image.open("wb") as f:
        f.truncate(64 * 1024 * 1024)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], check=True, capture_output=True
    )
    done = subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True)
    require(None if done.returncode == 0 else f"cannot loop-mount: {done.stderr.decode()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.fixture
def passphrase(tmp_path: Path) -> Path:
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    pw.chmod(0o600)
    return pw


def nvr(*args: str) -> list[str]:
    return [sys.executable, "-m", "nvr", *args]


@contextlib.contextmanager
def demo(data: Path, pw: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``nvr demo`` recording 10 s segments into ``data``; stopped (SIGTERM, exit 0)
    at the end."""
    config = log.with_name("nvr.yaml")
    config.write_text(
        "storage:\n  segment_seconds: 10\nmetrics:\n  enabled: true\n  listen: 127.0.0.1:0\n"
    )
    with log.open("w") as out:
        proc = subprocess.Popen(
            nvr(
                *("demo", "--config", str(config), "--data-dir", str(data), "--port", "0"),
                *("--passphrase-file", str(pw), "--work-factor", "15"),
            ),
            stdout=out,
            stderr=out,
        )
    try:
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_until(
    what: str, check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + DEADLINE
    while not check():
        assert proc.poll() is None, f"the service died waiting for {what}: {log.read_text()}"
        assert time.monotonic() < deadline, f"no {what} within {DEADLINE} s: {log.read_text()}"
        time.sleep(0.5)


def query(data: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the service's index (WAL: reading never blocks its writer)."""
    conn = sqlite3.connect(f"file:{data / 'nvr.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def closed_segments(data: Path) -> set[str]:
    try:
        rows = query(data, "SELECT path FROM segments WHERE state = 'closed'")
    except sqlite3.OperationalError:  # not created or not migrated yet
        return set()
    return {str(p) for (p,) in rows}


def verify(data: Path, pw: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        nvr("storage", "verify", "--passphrase-file", str(pw), "--data-dir", str(data)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def storage_alarms(url: str) -> float:
    """The service's ``porchlight_storage_alarms`` gauge (the alarms /api/v1/health lists)."""
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (checked above)
        text = response.read().decode()
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("porchlight_storage_alarms")
    )


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(ballast: Path, leave: int) -> None:
    """Grow ``ballast`` until only ``leave`` bytes are free (0: until the disk refuses)."""
    chunk = b"\0" * (1024 * 1024)
    with ballast.open("ab") as f:
        while (room := free_bytes(ballast.parent) - leave) > 0:
            try:
                f.write(chunk[: min(len(chunk), room)])
                f.flush()
                os.fsync(f.fileno())
            except OSError:
                if leave:
                    raise
                break
        if not leave:  # the last blocks, a byte at a time in small writes
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
                    os.fsync(f.fileno())


def test_disk_full_evicts_then_pauses_with_a_gap_and_recovers(
    tmp_path: Path, loop_fs: Path, passphrase: Path
) -> None:
    data, log = loop_fs / "data", tmp_path / "service.log"
    ballast = loop_fs / "ballast"
    with demo(data, passphrase, log) as proc:
        wait_until("closed segment", lambda: len(closed_segments(data)) >= 2, proc, log)

        # Little room left: the oldest footage goes, recording goes on.
        first = closed_segments(data)
        fill(ballast, leave=3 * 1024 * 1024)
        wait_until(
            "eviction and new footage",
            lambda: not first <= closed_segments(data) and bool(closed_segments(data) - first),
            proc,
            log,
        )

        # No room at all: writes fail with ENOSPC. The service stays up, evicts what it
        # can, holds the rest in memory, and says so (log, alarm, 'nvr status').
        metrics = re.search(r"serving metrics url=(\S+)", log.read_text())
        assert metrics is not None

        def full_and_alarmed() -> bool:
            fill(ballast, leave=0)  # again: what eviction freed goes too, until nothing can
            return storage_alarms(metrics[1]) > 0

        wait_until("the storage alarm", full_and_alarmed, proc, log)
        assert any(alarm in log.read_text() for alarm in ("disk full", "storage full"))
        port = re.search(r"Dashboard: https://127\.0\.0\.1:(\d+)/", log.read_text())
        assert port is not None
        status = subprocess.run(
            nvr("status", "--data-dir", str(data), "--port", port[1]),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 3, status.stdout + status.stderr
        assert "the disk is almost full" in status.stdout, status.stdout
        assert "Service:   running" in status.stdout, status.stdout

        # Room again: recording resumes and the gap is closed.
        ballast.unlink()
        before = closed_segments(data)
        wait_until(
            "footage after the disk had room again",
            lambda: bool(closed_segments(data) - before),
            proc,
            log,
        )
        # Whatever could not be held in memory is a recorded outage that has ended.
        gaps = query(data, "SELECT end_time FROM gaps WHERE reason = 'disk_full'")
        assert all(end is not None for (end,) in gaps), gaps
    checked = verify(data, passphrase)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "PROBLEM" not in checked.stdout


def test_read_only_data_directory_is_refused_at_start(tmp_path: Path, loop_fs: Path) -> None:
    data = loop_fs / "data"
    data.mkdir(mode=0o700)
    subprocess.run(["mount", "-o", "remount,ro", str(loop_fs)], check=True)
    try:
        done = subprocess.run(
            nvr("serve", "--data-dir", str(data), "--port", "0"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(loop_fs)], check=True)
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert str(data) in message
    assert "read-only" in message
    assert not (data / "nvr.sqlite3").exists()


HOLD_SECONDS = 15.0  # longer than the 5 s busy timeout and than a 10 s segment


def test_database_locked_by_another_process_is_survived(tmp_path: Path, passphrase: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "service.log"
    with demo(data, passphrase, log) as proc:
        wait_until("closed segment", lambda: len(closed_segments(data)) >= 1, proc, log)
        locker = sqlite3.connect(data / "nvr.sqlite3", timeout=30, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            time.sleep(HOLD_SECONDS)
            assert proc.poll() is None, log.read_text()
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        before = closed_segments(data)
        wait_until(
            "footage after the lock", lambda: bool(closed_segments(data) - before), proc, log
        )
    text = log.read_text()
    assert "database is locked by another process: retrying" in text
    assert "could not close segment" not in text  # the lock was waited out, not a loss

    # Held at start: the service waits, saying so, and starts once the lock is gone.
    second = tmp_path / "second.log"
    locker = sqlite3.connect(data / "nvr.sqlite3", timeout=30, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    held = True
    try:
        with demo(data, passphrase, second) as proc:
            wait_until(
                "the wait for the lock",
                lambda: "retrying recording the service start" in second.read_text(),
                proc,
                second,
            )
            locker.execute("ROLLBACK")
            held = False
            before = closed_segments(data)
            wait_until(
                "footage once the lock is gone",
                lambda: bool(closed_segments(data) - before),
                proc,
                second,
            )
    finally:
        if held:
            locker.execute("ROLLBACK")
        locker.close()
    checked = verify(data, passphrase)
    assert checked.returncode == 0, checked.stdout + checked.stderr
