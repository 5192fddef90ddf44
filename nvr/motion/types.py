"""The values the motion package passes around: one analysed frame's verdict, and events.

Contract (shared by the detector, the event rules, the live worker, the file analysis
used by ``nvr motion eval`` / ``tune``, and the benchmark)::

    detector = Detector(settings)                  # nvr.motion.detector
    result = detector.process(luma)                # luma: H x W uint8, analysis size
    tracker = EventTracker(rules)                  # nvr.motion.events
    step = tracker.update(t, result)               # t: seconds (float) on the media clock
    step.started / step.ended / step.best          # see TrackerStep

Boxes are fractions (0..1) of the analysed frame, origin top left, so they mean the same
at any resolution (and map onto the camera's zones and masks, which are fractions too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Box", "FrameResult", "MotionEvent", "TrackerStep"]


@dataclass(frozen=True)
class Box:
    """A moving region: left, top, width, height as fractions of the frame."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return self.w * self.h


@dataclass(frozen=True)
class FrameResult:
    """The detector's verdict on one analysed frame.

    ``motion``: something in a zone (outside the masks) moves at this frame, big enough for
    the sensitivity. ``score``: share of the counted area that changed (0..1). ``boxes``:
    the moving regions that counted. ``zones``: names of the zones they touch (the implicit
    whole-frame zone is ``"all"``). ``recalibrated``: the background model was reset at this
    frame (global light change, IR switch, first frame); a recalibrated frame is never
    motion."""

    motion: bool
    score: float
    boxes: tuple[Box, ...] = ()
    zones: tuple[str, ...] = ()
    recalibrated: bool = False


@dataclass
class MotionEvent:
    """One motion event, open (``end is None``) or ended. Times are seconds on the caller's
    clock (the live worker converts them to wall-clock datetimes)."""

    start: float
    end: float | None = None
    peak_score: float = 0.0
    boxes: list[tuple[float, tuple[Box, ...]]] = field(default_factory=list)  # (t, boxes)
    zones: set[str] = field(default_factory=set)
    best_t: float | None = None  # time of the frame with the largest box (the thumbnail)
    best_area: float = 0.0


@dataclass(frozen=True)
class TrackerStep:
    """What one ``EventTracker.update`` decided.

    ``started``: an event began at this frame (after the configured run of motion frames;
    its ``start`` is the first frame of that run). ``ended``: an event ended (quiet long
    enough); its ``end`` is its last motion frame. ``best``: this frame is now the open
    event's thumbnail frame (largest box so far) — the caller keeps a picture of it.
    ``active``: an event is open after this step."""

    started: MotionEvent | None = None
    ended: MotionEvent | None = None
    best: bool = False
    active: bool = False
