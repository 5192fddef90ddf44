"""``nvr motion tune``: run the live detector over footage and write what it saw as an MP4.

Contract::

    summary = tune(frames, out_path, settings, rules, width=640, seconds=None)

``frames`` are ``FileFrame``s as ``nvr.motion.frames.iter_file_frames`` yields them for a
file (``gated`` makes the same from a camera's decoded frames): every source frame, with
its analysis image when the rate gate took it. Those go through exactly what a live
camera's worker does with them: a fresh ``Detector`` and an ``EventTracker`` built from
the camera's motion config. Each analysed frame is written, annotated, at its own media
time (so the MP4 plays at real speed, at the analysis rate): the picture scaled to
``width`` at most (never up), masks shaded, zones outlined and named, the boxes that counted,
the score and whether an event is open, and under it a strip graphing the recent scores
(log scale; green: motion frames) against the preset's smallest box area, with a red band under
the frames where an event is open. The MP4 is H.264 (libx264, yuv420p) and plaintext:
an installer's tool, not footage.

Drawing is pure (``Annotator.draw``: arrays in, array out); the file I/O is ``tune``'s.
The loop is ``nvr.motion.analysis.analyse_file``'s (gate, luma, detector, tracker) rather
than a call to it: tune draws whether an event is open (the tracker's state, which a
``FrameDecision`` does not carry), stops after ``seconds`` and also reads live cameras.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from nvr.motion.detector import PRESETS, Detector, DetectorSettings, Polygon, rasterise
from nvr.motion.events import EventRules, EventTracker
from nvr.motion.frames import FileFrame, RateGate, luma
from nvr.motion.types import FrameResult

Image = npt.NDArray[np.uint8]
Color = tuple[int, int, int]  # BGR

GRAPH_HEIGHT = 64
GRAPH_FLOOR = 1e-4  # the score graph's log scale runs from this to 1
BOX_COLOR: Color = (255, 0, 255)  # magenta: stands out on porches, skin and clothes
ZONE_COLOR: Color = (0, 215, 255)
MASK_TINT: Color = (110, 40, 40)
THRESHOLD_COLOR: Color = (60, 60, 255)
EVENT_COLOR: Color = (40, 40, 230)
TEXT_COLOR: Color = (255, 255, 255)
IDLE_BAR: Color = (150, 150, 150)
MOTION_BAR: Color = (0, 230, 0)
GRAPH_BG: Color = (30, 30, 30)
FONT = cv2.FONT_HERSHEY_SIMPLEX

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TuneSummary:
    """What one ``tune`` run saw and wrote."""

    frames_in: int  # decoded source frames
    frames_written: int  # analysed frames, one output frame each
    motion_frames: int
    events: int  # events started (one still open at the end counts)
    width: int
    height: int  # of the output, graph strip included
    seconds: float  # media time covered


def gated(frames: Iterable[av.VideoFrame], settings: DetectorSettings) -> Iterator[FileFrame]:
    """A live stream's decoded frames as ``iter_file_frames`` gives a file's: the rate
    gate and ``luma`` applied as the live worker applies them (repeated timestamps
    dropped)."""
    gate = RateGate(settings.fps)
    last: float | None = None
    for index, frame in enumerate(frames):
        if frame.pts is None or frame.time_base is None:
            continue
        t = float(frame.pts * frame.time_base)
        if last is not None and t <= last:
            continue
        last = t
        image = luma(frame, settings.analysis_height) if gate.take(t) else None
        yield FileFrame(index, t, frame, image)


def output_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The picture's size in the output: at most ``max_width`` wide, aspect kept, even."""
    w = max(2, min(width, max_width) // 2 * 2)
    h = max(2, round(height * w / width / 2) * 2)
    return w, h


def _points(points: Polygon, w: int, h: int) -> npt.NDArray[np.int32]:
    return np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in points], np.int32)


def _label(img: Image, text: str, org: tuple[int, int], color: Color, scale: float) -> None:
    """Text with a dark outline, readable on any picture."""
    thick = max(1, round(scale * 2))
    cv2.putText(img, text, org, FONT, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, color, thick, cv2.LINE_AA)


class Annotator:
    """Draws one analysed frame; keeps the recent scores for the graph strip."""

    def __init__(self, settings: DetectorSettings, width: int, height: int) -> None:
        self.width, self.height = width, height
        # The graph's line: the preset's smallest counted box, as a share of the frame. A
        # box that size, all of it changed, scores about that much.
        self.threshold = PRESETS[settings.sensitivity].min_area
        self._scores: deque[tuple[float, bool, bool]] = deque(maxlen=width // 2)
        self._font = max(0.35, width / 1400)
        self._zones = [
            (
                z.name if z.sensitivity == settings.sensitivity else f"{z.name} ({z.sensitivity})",
                _points(z.points, width, height),
            )
            for z in settings.zones
        ]
        # The detector's own rasteriser, so the shading covers exactly what it ignores.
        self._mask = rasterise(settings, (height, width)).mask > 0
        self._mask_outlines = [_points(m, width, height) for m in settings.masks]

    def draw(self, picture: Image, t: float, result: FrameResult, event_open: bool) -> Image:
        """``picture`` (H x W x 3 BGR at the output size) annotated, with the graph strip
        below: ``(height + GRAPH_HEIGHT) x width x 3``."""
        img = picture.copy()
        if self._mask_outlines:
            tint = np.array(MASK_TINT, np.float32)
            img[self._mask] = (img[self._mask] * 0.45 + tint * 0.55).astype(np.uint8)
            cv2.polylines(img, self._mask_outlines, True, (200, 200, 200), 1, cv2.LINE_AA)
        line = max(2, round(self.width / 240))
        for name, poly in self._zones:
            cv2.polylines(img, [poly], True, ZONE_COLOR, line, cv2.LINE_AA)
            x, y = poly.min(axis=0)
            org = (int(x) + 4, int(y) + 4 + round(24 * self._font))
            _label(img, name, org, ZONE_COLOR, self._font)
        for box in result.boxes:
            x0, y0 = round(box.x * self.width), round(box.y * self.height)
            x1 = round((box.x + box.w) * self.width) - 1
            y1 = round((box.y + box.h) * self.height) - 1
            cv2.rectangle(img, (x0, y0), (x1, y1), BOX_COLOR, line + 1)
        status = f"{t:6.1f} s  score {result.score:.4f}"
        if result.recalibrated:
            status += "  recalibrated"
        elif result.motion:
            status += "  motion " + ",".join(result.zones)
        _label(img, status, (6, 6 + round(24 * self._font)), TEXT_COLOR, self._font)
        if event_open:
            r = max(5, round(self.height / 40))
            cx, cy = self.width - 3 * r, 3 * r
            cv2.circle(img, (cx, cy), r, EVENT_COLOR, -1, cv2.LINE_AA)
            (tw, th), _ = cv2.getTextSize("EVENT", FONT, self._font, 1)
            _label(img, "EVENT", (cx - 2 * r - tw, cy + th // 2), EVENT_COLOR, self._font)
        self._scores.append((result.score, result.motion, event_open))
        return np.vstack([img, self._graph()])

    def _graph(self) -> Image:
        strip = np.empty((GRAPH_HEIGHT, self.width, 3), np.uint8)
        strip[:] = GRAPH_BG
        top, bottom = 4, GRAPH_HEIGHT - 7
        span = bottom - top

        def y_of(score: float) -> int:
            # Log scale from GRAPH_FLOOR to 1: a near miss and a big visitor both show.
            level = math.log10(max(score, GRAPH_FLOOR)) / -math.log10(GRAPH_FLOOR) + 1.0
            return bottom - round(min(level, 1.0) * span)

        x = self.width - 2 * len(self._scores)
        for score, motion, event_open in self._scores:
            color = MOTION_BAR if motion else IDLE_BAR
            cv2.rectangle(strip, (x, y_of(score)), (x + 1, bottom), color, -1)
            if event_open:
                strip[bottom + 2 : GRAPH_HEIGHT - 1, x : x + 2] = EVENT_COLOR
            x += 2
        ty = y_of(self.threshold)
        for x0 in range(0, self.width, 8):
            cv2.line(strip, (x0, ty), (min(x0 + 4, self.width - 1), ty), THRESHOLD_COLOR, 1)
        text = f"score, log scale; dashed: smallest box that counts ({self.threshold:.4f})"
        _label(strip, text, (4, 4 + round(20 * self._font)), TEXT_COLOR, self._font * 0.8)
        return strip


class _Writer:
    """H.264 MP4 at millisecond timestamps (the analysed frames' own media times)."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        self._container = av.open(str(path), "w", format="mp4")
        rate = Fraction(fps).limit_denominator(1000)
        stream = self._container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"crf": "23", "preset": "veryfast"}
        self._stream = stream
        self._last = -1

    def write(self, image: Image, seconds: float) -> None:
        frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
        # Strictly increasing, whatever a camera's clock did.
        self._last = max(self._last + 1, round(seconds * 1000))
        frame.pts = self._last
        frame.time_base = Fraction(1, 1000)
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()


def tune(
    frames: Iterable[FileFrame],
    out: Path,
    settings: DetectorSettings,
    rules: EventRules,
    *,
    width: int,
    seconds: float | None = None,
    progress: Progress | None = None,
) -> TuneSummary:
    """Analyse ``frames`` as a live camera would and write the annotated MP4 to ``out``
    (see the module docstring). Stops after ``seconds`` of media time when given."""
    detector = Detector(settings)
    tracker = EventTracker(rules)
    annotator: Annotator | None = None
    writer: _Writer | None = None
    t0: float | None = None
    t = 0.0
    frames_in = written = motion = events = 0
    try:
        for item in frames:
            t0 = item.t if t0 is None else t0
            if seconds is not None and item.t - t0 >= seconds:
                break
            t = item.t - t0
            frames_in += 1
            if item.luma is None:
                continue
            result = detector.process(item.luma)
            step = tracker.update(item.t, result)
            if writer is None or annotator is None:
                w, h = output_size(item.frame.width, item.frame.height, width)
                annotator = Annotator(settings, w, h)
                writer = _Writer(out, w, h + GRAPH_HEIGHT, settings.fps)
            picture = np.ascontiguousarray(
                item.frame.to_ndarray(
                    format="bgr24", width=annotator.width, height=annotator.height
                ),
                dtype=np.uint8,
            )
            writer.write(annotator.draw(picture, t, result, step.active), t)
            written += 1
            motion += result.motion
            events += step.started is not None
            if progress and written % 100 == 0:
                progress(f"{t:.0f} s analysed, {events} event(s)")
    finally:
        if writer is not None:
            writer.close()
    tracker.flush(t)
    if annotator is None:
        return TuneSummary(frames_in, 0, 0, 0, 0, 0, 0.0)
    return TuneSummary(
        frames_in=frames_in,
        frames_written=written,
        motion_frames=motion,
        events=events,
        width=annotator.width,
        height=annotator.height + GRAPH_HEIGHT,
        seconds=math.floor(t * 1000) / 1000,
    )
