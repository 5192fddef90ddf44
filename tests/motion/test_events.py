"""Event rules: start after a run of motion frames, end after a quiet period."""

from __future__ import annotations

import pytest

from nvr.motion.events import EventRules, EventTracker
from nvr.motion.types import Box, FrameResult

STILL = FrameResult(motion=False, score=0.0)
RECAL = FrameResult(motion=False, score=0.0, recalibrated=True)


def moving(size: float = 0.1, zone: str = "all", score: float = 0.05) -> FrameResult:
    return FrameResult(motion=True, score=score, boxes=(Box(0.1, 0.1, size, size),), zones=(zone,))


def feed(tracker: EventTracker, frames: list[FrameResult], fps: float = 5.0) -> list[str]:
    """What happened at each frame: S(tarted), E(nded), or '.'."""
    out = []
    for i, result in enumerate(frames):
        step = tracker.update(i / fps, result)
        out.append("S" if step.started else "E" if step.ended else ".")
    return out


def test_starts_after_n_frames_dated_from_the_first() -> None:
    tracker = EventTracker(EventRules(start_frames=3, quiet_seconds=1.0))
    steps = feed(tracker, [STILL, moving(), moving(), moving(), moving()])
    assert steps == [".", ".", ".", "S", "."]
    event = tracker.active
    assert event is not None
    assert event.start == pytest.approx(0.2)
    assert len(event.boxes) == 4  # the run's frames belong to the event


def test_a_broken_run_starts_nothing() -> None:
    tracker = EventTracker(EventRules(start_frames=2, quiet_seconds=1.0))
    assert feed(tracker, [moving(), STILL, moving(), RECAL, moving(), STILL]) == ["."] * 6
    assert tracker.active is None


def test_ends_after_the_quiet_period_at_the_last_motion_frame() -> None:
    tracker = EventTracker(EventRules(start_frames=1, quiet_seconds=1.0))
    ended = []
    for i, result in enumerate([moving(), moving()] + [STILL] * 10):
        step = tracker.update(i * 0.2, result)
        if step.ended:
            ended.append((i, step.ended))
    assert len(ended) == 1
    index, event = ended[0]
    assert index == 6  # 1.0 s after the last motion frame (t=0.2)
    assert event.start == 0.0
    assert event.end == pytest.approx(0.2)


def test_motion_within_the_quiet_period_keeps_the_event_open() -> None:
    tracker = EventTracker(EventRules(start_frames=1, quiet_seconds=1.0))
    frames = [moving(), STILL, STILL, STILL, moving(), STILL, STILL, STILL, moving()]
    assert feed(tracker, frames).count("S") == 1
    assert tracker.active is not None


def test_event_collects_zones_peak_and_thumbnail() -> None:
    tracker = EventTracker(EventRules(start_frames=2, quiet_seconds=1.0))
    bests = []
    frames = [moving(0.1, "door", 0.1), moving(0.3, "path", 0.5), moving(0.2, "door", 0.2)]
    for i, result in enumerate(frames):
        bests.append(tracker.update(i * 0.2, result).best)
    assert bests == [True, True, False]
    event = tracker.flush(1.0)
    assert event is not None
    assert event.zones == {"door", "path"}
    assert event.peak_score == 0.5
    assert event.best_t == pytest.approx(0.2)
    assert event.end == pytest.approx(0.4)
    assert tracker.active is None


def test_flush_without_an_event_and_dropping_a_pending_run() -> None:
    tracker = EventTracker(EventRules(start_frames=3, quiet_seconds=1.0))
    tracker.update(0.0, moving())
    assert tracker.flush(0.1) is None
    # The pending run is gone: two more frames do not complete it.
    assert feed(tracker, [moving(), moving()]) == [".", "."]


def test_bad_rules() -> None:
    with pytest.raises(ValueError, match="start_frames"):
        EventRules(start_frames=0)
    with pytest.raises(ValueError, match="quiet_seconds"):
        EventRules(quiet_seconds=0)
