"""What footage writing costs, counted on the recorder's thread without a lock.

Contract: ``SegmentStore.stats(camera)`` gives one ``WriteStats`` per camera, created on
first use and kept for the life of the store. Its one writer is that camera's recorder
thread (through ``OpenSegment``); any other thread may read it at any time (``snapshot``)
and sees values that are each current as of some recent write. No lock is taken: each
write (the muxer writes an fMP4 fragment at a time) costs two ``perf_counter`` calls, a
bisect over the fixed buckets and a few integer additions, which the GIL keeps whole.
``write_seconds`` is the time one ``OpenSegment.write`` (encrypt, hand the sealed chunks
to the kernel, and the periodic fsync when due) or one
``close`` (final chunk, fsync, rename, folder fsync) took: the "segment write latency" the
metrics report as a histogram (nvr/service/metrics.py).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

# Upper bounds in seconds (Prometheus ``le``): a write to the page cache is well under a
# millisecond; an fsync on a healthy SSD a few ms; an SD card can take seconds.
WRITE_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True)
class WriteSnapshot:
    """Cumulative counts per bucket (``le`` order, last = +Inf), the sum, bytes written."""

    buckets: tuple[int, ...]
    count: int
    sum_seconds: float
    bytes_written: int


class WriteStats:
    """One camera's write latencies and bytes; see the module docstring."""

    def __init__(self) -> None:
        self._counts = [0] * (len(WRITE_BUCKETS) + 1)
        self._sum = 0.0
        self.bytes_written = 0  # plaintext handed to the segment files

    def observe(self, seconds: float, size: int = 0) -> None:
        self._counts[bisect_left(WRITE_BUCKETS, seconds)] += 1
        self._sum += seconds
        self.bytes_written += size

    def snapshot(self) -> WriteSnapshot:
        counts = list(self._counts)
        cumulative, total = [], 0
        for n in counts:
            total += n
            cumulative.append(total)
        return WriteSnapshot(tuple(cumulative), total, self._sum, self.bytes_written)
