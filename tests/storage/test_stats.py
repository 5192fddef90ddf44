"""Write statistics: the fixed-bucket histogram the metrics export, counted lock-free."""

from __future__ import annotations

from nvr.storage.stats import WRITE_BUCKETS, WriteStats


def test_observations_land_in_cumulative_buckets() -> None:
    stats = WriteStats()
    stats.observe(0.0001, 100)  # first bucket
    stats.observe(0.0005, 50)  # on a bound: counted as <= it
    stats.observe(0.3)  # le=0.5
    stats.observe(60.0)  # past the last bound: only +Inf
    snap = stats.snapshot()
    assert len(snap.buckets) == len(WRITE_BUCKETS) + 1
    assert snap.buckets[0] == 2
    assert snap.buckets[WRITE_BUCKETS.index(0.25)] == 2
    assert snap.buckets[WRITE_BUCKETS.index(0.5)] == 3
    assert snap.buckets[-2] == 3
    assert snap.buckets[-1] == snap.count == 4
    assert snap.sum_seconds == 0.0001 + 0.0005 + 0.3 + 60.0
    assert snap.bytes_written == 150


def test_a_snapshot_does_not_move_with_later_writes() -> None:
    stats = WriteStats()
    stats.observe(0.01, 10)
    before = stats.snapshot()
    stats.observe(0.01, 10)
    assert (before.count, before.bytes_written) == (1, 10)
    assert (stats.snapshot().count, stats.snapshot().bytes_written) == (2, 20)
