"""Measured frame rate and bitrate follow stream time, not arrival bursts."""

from __future__ import annotations

import pytest

from nvr.capture.health import RateMeter


def test_rates_over_the_window() -> None:
    meter = RateMeter(window=5.0)
    assert meter.fps() is None
    assert meter.bitrate() is None
    for n in range(100):  # 10 s of 10 fps, 1000-byte frames
        meter.add(n / 10, 1000)
    assert meter.fps() == pytest.approx(10.0)
    assert meter.bitrate() == pytest.approx(80_000.0)


def test_burst_arrival_does_not_matter_and_missing_timestamps_are_ignored() -> None:
    meter = RateMeter()
    meter.add(None, 99_999)
    for n in range(20):  # a cached GOP: stream time says 2 s, whatever the arrival
        meter.add(100 + n / 10, 500)
    assert meter.fps() == pytest.approx(10.0)


def test_time_going_back_starts_over() -> None:
    meter = RateMeter()
    for n in range(10):
        meter.add(50 + n, 10)
    meter.add(1.0, 10)
    assert meter.fps() is None
    meter.add(1.5, 10)
    assert meter.fps() == pytest.approx(2.0)
