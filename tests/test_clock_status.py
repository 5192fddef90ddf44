"""nvr.clock_status: the pure reading of adjtimex's answer, the daemons' sync files (real
files under a fake root), and the real adjtimex call on this machine.

What cannot be tested here: a *synchronized* kernel. The test machine runs no NTP daemon
(adjtimex says STA_UNSYNC / TIME_ERROR), so the "ntp" path is covered through
``interpret`` with the values a synchronized kernel returns, not through the kernel.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nvr.clock import FakeClock
from nvr.clock_status import (
    STA_UNSYNC,
    TIME_ERROR,
    KernelTime,
    _Timex,
    clock_status,
    interpret,
    last_sync,
    read_kernel,
)

SYNCED = KernelTime(state=0, status=0x2001, max_error_us=12_345, est_error_us=250)  # PLL|NANO


def test_a_disciplined_kernel_is_ntp_with_its_errors_in_ms() -> None:
    assert interpret(SYNCED) == ("ntp", 12.345, 0.25)


def test_the_unsync_flag_or_time_error_is_unsynchronized() -> None:
    flagged = KernelTime(state=0, status=STA_UNSYNC, max_error_us=16_000_000, est_error_us=0)
    error = KernelTime(state=TIME_ERROR, status=0, max_error_us=500, est_error_us=0)
    assert interpret(flagged) == ("unsynchronized", None, None)
    assert interpret(error) == ("unsynchronized", None, None)
    assert interpret(None) == ("unknown", None, None)


def _touch(root: Path, rel: str, when: datetime) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    os.utime(path, (when.timestamp(), when.timestamp()))


def test_the_newest_sync_file_gives_last_sync_and_its_daemon(tmp_path: Path) -> None:
    assert last_sync(tmp_path) == (None, None)
    early = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    late = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    _touch(tmp_path, "run/systemd/timesync/synchronized", early)
    _touch(tmp_path, "var/lib/systemd/timesync/clock", late)
    assert last_sync(tmp_path) == (late, "systemd-timesyncd")
    _touch(tmp_path, "var/lib/chrony/chrony.drift", datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    assert last_sync(tmp_path) == (datetime(2026, 3, 4, 10, 0, tzinfo=UTC), "chrony")


def test_clock_status_puts_it_together(tmp_path: Path) -> None:
    _touch(tmp_path, "var/lib/systemd/timesync/clock", datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    clock = FakeClock(datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    status = clock_status(clock, kernel=lambda: SYNCED, root=tmp_path)
    assert status.as_record() == {
        "source": "ntp",
        "synchronized": True,
        "max_error_ms": 12.345,
        "est_error_ms": 0.25,
        "last_sync": "2026-03-04T09:00:00Z",
        "last_sync_from": "systemd-timesyncd",
        "checked_at": "2026-03-04T10:00:00Z",
    }
    audit = status.as_audit()
    assert (audit["max_error_us"], audit["est_error_us"]) == (12_345, 250)
    assert not any(isinstance(v, float) for v in audit.values())  # audit payloads refuse floats
    unknown = clock_status(clock, kernel=lambda: None, root=tmp_path / "empty")
    assert (unknown.source, unknown.synchronized, unknown.last_sync) == ("unknown", False, None)


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64")),
    reason="the struct size is checked for 64-bit Linux",
)
def test_struct_timex_has_the_kernel_layout() -> None:
    # sizeof / offsetof(struct timex, ...) as gcc reports them for glibc on LP64 Linux.
    assert ctypes.sizeof(_Timex) == 208
    assert (_Timex.maxerror.offset, _Timex.status.offset) == (24, 40)
    assert _Timex.tai.offset == 160


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_the_real_kernel_answers_and_clock_status_agrees() -> None:
    kernel = read_kernel()
    assert kernel is not None
    assert 0 <= kernel.state <= TIME_ERROR
    assert kernel.max_error_us >= 0
    status = clock_status(FakeClock(), kernel=lambda: kernel)
    source, _, _ = interpret(kernel)
    assert status.source == source
    assert status.synchronized is (source == "ntp")
