"""Is this box's clock set, and how well: the kernel's NTP state and the last sync.

Contract:

- ``clock_status(clock=None, *, kernel=read_kernel, root=Path("/")) -> ClockStatus``:
  ``source`` is ``"ntp"`` when the kernel says its clock is disciplined (``STA_UNSYNC``
  clear and ``adjtimex`` not in ``TIME_ERROR``), ``"unsynchronized"`` when it says it is
  not, ``"unknown"`` when the kernel cannot be asked (not Linux, no libc, the call
  failed); ``synchronized`` is ``source == "ntp"``; ``max_error_ms`` / ``est_error_ms``
  are the kernel's maximum and estimated error (None when unknown or unsynchronized: the
  kernel keeps growing maxerror then, and the figure means nothing); ``last_sync`` (UTC)
  is the latest sync a time daemon left evidence of (``last_sync_from`` names it), or
  None when none is knowable; ``checked_at`` is ``clock.wall()``. Never raises for a
  missing file or an unreadable kernel: those become None / ``"unknown"``.
- ``read_kernel()`` calls ``adjtimex(2)`` read-only (``modes = 0``, no privilege) through
  ctypes and returns ``KernelTime`` or None. ``interpret(kernel)`` is the pure decision.
- ``last_sync(root)`` looks, under ``root``, at systemd-timesyncd
  (``/var/lib/systemd/timesync/clock``: its mtime is touched at every sync;
  ``/run/systemd/timesync/synchronized``: created at the first sync since boot), chrony
  (``/var/lib/chrony/chrony.drift``: rewritten on its update interval, so a lower bound
  on recency) and ntpd (``/var/lib/ntp/ntp.drift``, ``/var/lib/ntpsec/ntp.drift``). The
  newest wins. No subprocess, no network.
- ``ClockStatus.as_record()`` is plain JSON (times as ``...Z``); ``max_error_ms`` is a
  float, so it belongs in a manifest or a report, not in an audit payload (the audit log
  refuses floats): ``as_audit()`` gives integer microseconds instead.

The kernel flag says a daemon (or anything calling ``adjtimex``) has disciplined the
clock; it cannot say against what. A box with a battery-backed RTC and no NTP reports
``"unsynchronized"``, which is the honest answer for evidence. Used by the export
manifest (nvr/sharing/bundle.py) and meant for ``nvr doctor``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from nvr.clock import Clock, SystemClock

Source = Literal["ntp", "unsynchronized", "unknown"]

STA_UNSYNC = 0x0040  # <linux/timex.h>
TIME_ERROR = 5  # adjtimex's return value when the clock is not synchronized

# (daemon, path under root, what the mtime means), newest evidence wins.
SYNC_FILES: tuple[tuple[str, str], ...] = (
    ("systemd-timesyncd", "var/lib/systemd/timesync/clock"),
    ("systemd-timesyncd", "run/systemd/timesync/synchronized"),
    ("chrony", "var/lib/chrony/chrony.drift"),
    ("ntpd", "var/lib/ntp/ntp.drift"),
    ("ntpd", "var/lib/ntpsec/ntp.drift"),
)


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """``struct timex`` (<sys/timex.h>, glibc), including its 11 reserved ints."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


@dataclass(frozen=True)
class KernelTime:
    """What ``adjtimex`` said: its return value (clock state), status bits, errors (µs)."""

    state: int
    status: int
    max_error_us: int
    est_error_us: int


@dataclass(frozen=True)
class ClockStatus:
    source: Source
    synchronized: bool
    max_error_ms: float | None
    est_error_ms: float | None
    last_sync: datetime | None
    last_sync_from: str | None  # the daemon whose file gave last_sync
    checked_at: datetime

    def as_record(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "synchronized": self.synchronized,
            "max_error_ms": self.max_error_ms,
            "est_error_ms": self.est_error_ms,
            "last_sync": _iso(self.last_sync),
            "last_sync_from": self.last_sync_from,
            "checked_at": _iso(self.checked_at),
        }

    def as_audit(self) -> dict[str, Any]:
        """The same, with integer microseconds (audit payloads take no floats)."""
        record = self.as_record()
        for key in ("max_error_ms", "est_error_ms"):
            value = record.pop(key)
            record[key.replace("_ms", "_us")] = None if value is None else round(value * 1000)
        return record


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_kernel() -> KernelTime | None:
    """``adjtimex(2)`` with ``modes = 0`` (read only), or None where it cannot be called."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        call = libc.adjtimex
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.POINTER(_Timex)]
    call.restype = ctypes.c_int
    tx = _Timex()
    state = call(ctypes.byref(tx))
    if state < 0:
        return None
    return KernelTime(state, tx.status, tx.maxerror, tx.esterror)


def interpret(kernel: KernelTime | None) -> tuple[Source, float | None, float | None]:
    """(source, max error ms, estimated error ms) from the kernel's answer."""
    if kernel is None:
        return "unknown", None, None
    if kernel.status & STA_UNSYNC or kernel.state == TIME_ERROR:
        return "unsynchronized", None, None
    return "ntp", kernel.max_error_us / 1000, kernel.est_error_us / 1000


def last_sync(root: Path = Path("/")) -> tuple[datetime | None, str | None]:
    """The newest sync evidence under ``root``: (when, UTC; which daemon), or (None, None)."""
    best: tuple[datetime | None, str | None] = (None, None)
    for daemon, rel in SYNC_FILES:
        try:
            mtime = (root / rel).stat().st_mtime
        except OSError:
            continue
        when = datetime.fromtimestamp(mtime, UTC)
        if best[0] is None or when > best[0]:
            best = (when, daemon)
    return best


def clock_status(
    clock: Clock | None = None,
    *,
    kernel: Callable[[], KernelTime | None] = read_kernel,
    root: Path = Path("/"),
) -> ClockStatus:
    """The box's clock now; see the module docstring."""
    source, max_ms, est_ms = interpret(kernel())
    when, daemon = last_sync(root)
    return ClockStatus(
        source=source,
        synchronized=source == "ntp",
        max_error_ms=max_ms,
        est_error_ms=est_ms,
        last_sync=when,
        last_sync_from=daemon,
        checked_at=(clock or SystemClock()).wall(),
    )
