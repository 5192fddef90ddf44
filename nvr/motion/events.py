"""Event rules: per-frame verdicts in, motion events out.

Contract::

    tracker = EventTracker(EventRules.from_config(camera.motion))
    step = tracker.update(t, result)   # once per analysed frame, t in seconds, increasing
    tracker.flush(t)                   # at stream end / reconnect: ends an open event

An event starts when ``start_frames`` consecutive analysed frames are motion; its
``start`` is the first frame of that run (so the start does not lag by the run length).
It ends when no frame has been motion for ``quiet_seconds``; its ``end`` is its last
motion frame. A recalibrated frame is never motion and breaks a run. Boxes, zones, the
peak score and the thumbnail frame (largest box) are collected from every motion frame
of the event, including the run that started it. ``step.best`` is also reported for the
frames of a run that has not started an event yet, so a caller that keeps a picture of
each ``best`` frame always has the thumbnail.
"""

from __future__ import annotations

from dataclasses import dataclass

from nvr.config.cameras import MotionConfig
from nvr.motion.types import FrameResult, MotionEvent, TrackerStep

__all__ = ["EventRules", "EventTracker"]


@dataclass(frozen=True)
class EventRules:
    start_frames: int = 2
    quiet_seconds: float = 6.0

    def __post_init__(self) -> None:
        if self.start_frames < 1:
            raise ValueError(f"start_frames must be >= 1, got {self.start_frames}")
        if not self.quiet_seconds > 0:
            raise ValueError(f"quiet_seconds must be positive, got {self.quiet_seconds}")

    @classmethod
    def from_config(cls, motion: MotionConfig) -> EventRules:
        return cls(start_frames=motion.start_frames, quiet_seconds=motion.quiet_seconds)


def _add(event: MotionEvent, t: float, result: FrameResult) -> bool:
    """Fold one motion frame into ``event``; True when it is the new thumbnail frame."""
    event.peak_score = max(event.peak_score, result.score)
    event.boxes.append((t, result.boxes))
    event.zones.update(result.zones)
    largest = max((b.area for b in result.boxes), default=0.0)
    if event.best_t is None or largest > event.best_area:
        event.best_t, event.best_area = t, largest
        return True
    return False


class EventTracker:
    """Applies ``EventRules`` to a camera's stream of verdicts (state: the open event)."""

    def __init__(self, rules: EventRules) -> None:
        self.rules = rules
        self._run: MotionEvent | None = None  # a run of motion frames not yet an event
        self._run_length = 0
        self._open: MotionEvent | None = None
        self._last_motion = 0.0

    @property
    def active(self) -> MotionEvent | None:
        """The open event, if any."""
        return self._open

    def update(self, t: float, result: FrameResult) -> TrackerStep:
        open_event = self._open
        if open_event is not None:
            if result.motion:
                self._last_motion = t
                return TrackerStep(best=_add(open_event, t, result), active=True)
            if t - self._last_motion >= self.rules.quiet_seconds:
                return TrackerStep(ended=self._close(), active=False)
            return TrackerStep(active=True)
        if not result.motion:
            self._run, self._run_length = None, 0
            return TrackerStep()
        if self._run is None:
            self._run = MotionEvent(start=t)
        best = _add(self._run, t, result)
        self._run_length += 1
        self._last_motion = t
        if self._run_length < self.rules.start_frames:
            return TrackerStep(best=best)
        self._open, self._run, self._run_length = self._run, None, 0
        return TrackerStep(started=self._open, best=best, active=True)

    def _close(self) -> MotionEvent | None:
        event, self._open = self._open, None
        if event is not None:
            event.end = self._last_motion
        return event

    def flush(self, t: float) -> MotionEvent | None:
        """End the open event now (stream ended or reconnecting); drop a pending run.

        ``t`` is when the stream stopped; the event's end is still its last motion frame,
        never later than ``t``."""
        self._run, self._run_length = None, 0
        event = self._close()
        if event is not None and event.end is not None:
            event.end = min(event.end, t)
        return event
