"""Timestamps of one connection: repaired media ticks and the wall-clock time of each packet.

Pure (no I/O, no clock reads): the recorder feeds it what the capture thread measured.

- ``TickRepair`` keeps a connection's DTS strictly increasing, as the MP4 muxer demands.
  A packet whose DTS does not advance, or leaps more than ``max_jump`` ahead, shifts every
  later timestamp so that it lands one frame interval after the previous packet (the
  camera restarted its clock, or reordered): frames are kept, never dropped, since a
  dropped reference frame would corrupt the rest of its GOP.
- ``WallAnchor`` maps repaired ticks to UTC: the arrival time of the connection's first
  packet plus media time since then. Media time, not per-packet arrival, so that
  consecutive segments join exactly and network jitter does not bend the timeline.
  ``drift`` tells how far the mapping is from the latest arrival time; the recorder
  re-anchors at a segment start when it exceeds ``REANCHOR_DRIFT`` (the wall clock was
  stepped, or the camera's clock runs at a different rate).
- ``clock_jump`` measures how far the wall clock moved against the monotonic clock
  between two packets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

CLOCK_JUMP_SECONDS = 2.0
REANCHOR_DRIFT = 2.0


@dataclass(frozen=True)
class Ticks:
    pts: int
    dts: int


class TickRepair:
    """Strictly increasing DTS for one connection; see the module docstring."""

    def __init__(self, time_base: Fraction, *, max_jump: float = 5.0) -> None:
        self.time_base = time_base
        self._max_jump = max(1, round(max_jump / time_base))
        self._step = max(1, round(Fraction(1, 15) / time_base))  # until a real one is seen
        self._shift = 0
        self.last_dts: int | None = None
        self.repairs = 0

    @property
    def step(self) -> int:
        """The latest frame interval seen, in ticks."""
        return self._step

    def fix(self, pts: int | None, dts: int | None) -> Ticks:
        if dts is None:
            dts = pts
        if dts is None:
            dts = self._step + (self.last_dts if self.last_dts is not None else -self._step)
            dts -= self._shift  # undone below: an invented DTS is already repaired
        if pts is None:
            pts = dts
        d = dts + self._shift
        if self.last_dts is not None:
            delta = d - self.last_dts
            if delta <= 0 or delta > self._max_jump:
                self._shift += self.last_dts + self._step - d
                d = self.last_dts + self._step
                self.repairs += 1
            else:
                self._step = delta
        self.last_dts = d
        return Ticks(max(pts + self._shift, d), d)


class WallAnchor:
    """Repaired ticks -> UTC for one connection; see the module docstring."""

    def __init__(self, time_base: Fraction, wall: datetime, dts: int) -> None:
        self.time_base = time_base
        self.wall = wall
        self.dts = dts

    def at(self, dts: int) -> datetime:
        return self.wall + timedelta(seconds=float((dts - self.dts) * self.time_base))

    def drift(self, dts: int, received_at: datetime) -> float:
        """Seconds the mapped time of ``dts`` lies ahead of (+) or behind (-) its arrival."""
        return (self.at(dts) - received_at).total_seconds()


def clock_jump(prev_wall: datetime, prev_mono: float, wall: datetime, mono: float) -> float:
    """Seconds the wall clock moved beyond what the monotonic clock did (+ forward)."""
    return (wall - prev_wall).total_seconds() - (mono - prev_mono)
