"""The events-mode pre-roll ring keeps whole GOPs covering the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nvr.record.preroll import PreRoll

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def feed(ring: PreRoll[int], seconds: float, fps: int = 10, gop: int = 10) -> None:
    for n in range(round(seconds * fps)):
        ring.add(n, n % gop == 0, T0 + timedelta(seconds=n / fps))


def test_starts_on_a_keyframe_at_or_before_the_window() -> None:
    ring: PreRoll[int] = PreRoll(3.0)
    feed(ring, 10.1)  # packets 0..100, the newest at 10.0 s
    items = ring.items()
    assert items[0] % 10 == 0  # a keyframe
    start = ring.start()
    assert start is not None
    assert start <= T0 + timedelta(seconds=7.0)
    assert start > T0 + timedelta(seconds=7.0 - 1.0)  # at most one GOP more
    assert items == list(range(items[0], 101))


def test_refuses_packets_before_the_first_keyframe_and_clears() -> None:
    ring: PreRoll[int] = PreRoll(3.0)
    assert not ring.add(1, False, T0)
    assert ring.add(2, True, T0)
    assert len(ring) == 1
    ring.clear()
    assert ring.items() == []
    assert ring.start() is None


def test_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="pre-roll"):
        PreRoll(-1.0)
