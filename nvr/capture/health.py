"""Stream health: an immutable snapshot, and the meter that measures frame rate and bitrate.

Contract: ``StreamHealth`` is a frozen value a ``StreamReader`` hands out on request, safe
to pass between threads and to serialise; its ``url`` and ``last_error`` never contain a
password. ``RateMeter`` measures fps and bits per second over a sliding window of *stream*
time (packet timestamps), so the burst of a cached GOP at connect does not read as a
spike; packets without a timestamp are ignored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from nvr.capture.policy import StreamState


@dataclass(frozen=True)
class StreamHealth:
    name: str
    url: str  # password masked
    state: StreamState
    since: datetime  # when ``state`` last changed
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None  # measured; None unless online
    bitrate: float | None = None  # measured, bits per second; None unless online
    packets: int = 0
    last_packet_at: datetime | None = None
    reconnects: int = 0  # connection attempts after the first
    last_error: str | None = None  # credential-scrubbed, one line


class RateMeter:
    """Frames per second and bits per second over the last ``window`` seconds of stream."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def reset(self) -> None:
        self._samples.clear()

    def add(self, stream_seconds: float | None, size: int) -> None:
        if stream_seconds is None:
            return
        samples = self._samples
        if samples and stream_seconds < samples[-1][0]:
            samples.clear()  # timestamps went back: a new session or a camera reset
        samples.append((stream_seconds, size))
        while samples[-1][0] - samples[0][0] > self.window:
            samples.popleft()

    def _span(self) -> float:
        return self._samples[-1][0] - self._samples[0][0] if len(self._samples) > 1 else 0.0

    def fps(self) -> float | None:
        span = self._span()
        return (len(self._samples) - 1) / span if span > 0 else None

    def bitrate(self) -> float | None:
        span = self._span()
        if span <= 0:
            return None
        # The first sample's bytes belong before the window's start.
        return sum(size for _t, size in list(self._samples)[1:]) * 8 / span
