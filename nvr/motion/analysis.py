"""Motion analysis of a video file, exactly as a live camera is analysed.

Contract: ``analyse_file(path, settings, rules)`` decodes ``path`` and runs the same
``RateGate`` -> ``luma`` -> ``Detector`` -> ``EventTracker`` chain the live worker runs,
with a fresh detector (so the first analysed frame only initialises the background). It
returns an ``Analysis``: one ``FrameDecision`` per *source* frame and the events.

The decision rule for frames the gate skips: a source frame that is not analysed takes
the verdict (motion, score, boxes) of the last analysed frame before it, because that
verdict is what a live camera "believes" until its next analysed frame. (The first source
frame is always analysed, so every frame has a verdict.) An event covers the source
frames from its first motion frame to the last frame before the analysed frame after its
last motion frame.

``on_frame`` (optional) is called with each decoded frame and its decision, in order, so
``nvr motion tune`` can draw on the frames without decoding the file twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nvr.motion.detector import Detector, DetectorSettings
from nvr.motion.events import EventRules, EventTracker
from nvr.motion.frames import FileFrame, iter_file_frames
from nvr.motion.types import Box, FrameResult, MotionEvent

__all__ = ["Analysis", "FrameDecision", "analyse_file"]


@dataclass(frozen=True)
class FrameDecision:
    """The verdict for one source frame; ``analysed`` says whether it was its own."""

    index: int
    t: float
    analysed: bool
    result: FrameResult

    @property
    def motion(self) -> bool:
        return self.result.motion

    @property
    def boxes(self) -> tuple[Box, ...]:
        return self.result.boxes


@dataclass(frozen=True)
class EventSpan:
    """An event and the source frames it covers (first and last index, inclusive)."""

    event: MotionEvent
    first: int
    last: int


@dataclass(frozen=True)
class Analysis:
    width: int  # source frame size
    height: int
    frames: tuple[FrameDecision, ...]
    events: tuple[EventSpan, ...]

    @property
    def analysed(self) -> int:
        return sum(1 for f in self.frames if f.analysed)

    @property
    def source_fps(self) -> float:
        """Mean source frame rate from the timestamps (0 for fewer than two frames)."""
        if len(self.frames) < 2 or self.frames[-1].t <= self.frames[0].t:
            return 0.0
        return (len(self.frames) - 1) / (self.frames[-1].t - self.frames[0].t)


_NOTHING = FrameResult(motion=False, score=0.0)


def _span(event: MotionEvent, frames: list[FrameDecision]) -> EventSpan:
    first = next(f.index for f in frames if f.t >= event.start)
    end = event.end if event.end is not None else frames[-1].t
    last_analysed = next(f.index for f in frames if f.t >= end)
    last = last_analysed
    for f in frames[last_analysed + 1 :]:
        if f.analysed:
            break
        last = f.index
    return EventSpan(event, first, last)


def analyse_file(
    path: Path,
    settings: DetectorSettings,
    rules: EventRules,
    *,
    on_frame: Callable[[FileFrame, FrameDecision], None] | None = None,
) -> Analysis:
    """Analyse ``path`` with a fresh detector and tracker (see the module docstring)."""
    detector = Detector(settings)
    tracker = EventTracker(rules)
    frames: list[FrameDecision] = []
    ended: list[MotionEvent] = []
    last = _NOTHING
    width = height = 0
    for item in iter_file_frames(path, settings):
        width, height = item.frame.width, item.frame.height
        if item.luma is not None:
            last = detector.process(item.luma)
            step = tracker.update(item.t, last)
            if step.ended is not None:
                ended.append(step.ended)
        decision = FrameDecision(item.index, item.t, item.luma is not None, last)
        frames.append(decision)
        if on_frame is not None:
            on_frame(item, decision)
    if frames:
        tail = tracker.flush(frames[-1].t)
        if tail is not None:
            ended.append(tail)
    spans = tuple(_span(e, frames) for e in ended)
    return Analysis(width=width, height=height, frames=tuple(frames), events=spans)
