"""Face detection (OpenCV Haar cascades) and tracking across frames, for redaction.

Contract:

- ``FaceDetector().detect(frame) -> list[Box]``: boxes ``(x, y, w, h)`` in the frame's
  pixels of every face the frontal cascades (``haarcascade_frontalface_default`` and
  ``_alt2``) or the profile cascade (on the frame and on its mirror image, since it only
  knows faces turned one way) find. Detection runs on a grayscale copy scaled down to at
  most ``DETECT_WIDTH`` pixels wide (never up), with ``scaleFactor`` 1.1,
  ``minNeighbors`` 3 and a minimum face of 20 x 20 pixels there (no histogram
  equalisation: it made the cascades see faces in the blurred patches and on the door).
  Overlapping boxes of the four passes are merged. Not thread-safe
  (``cv2.CascadeClassifier`` is not): one detector per thread.
- ``track(detections, hold) -> list[list[TrackedBox]]``: given the detections of every
  frame of a clip, the boxes to blur in each frame. A face found in frame ``k`` is also
  blurred for up to ``hold`` frames after it was last seen and ``hold`` frames before it
  was first seen, at a position predicted from its motion and growing by
  ``COAST_GROWTH`` per frame of prediction, so a face missed for a frame or two (turned
  away, motion blur, a hand in front) stays hidden. ``TrackedBox.detected`` says whether
  the box comes from a detection in that frame.

Why these numbers: 640 pixels wide keeps a face of 20 pixels there (~60 pixels at
1080p) detectable and costs ~10-25 ms per pass on this class of machine; a lower
``minNeighbors`` finds more faces and more false ones, and a false face only blurs a
little wall, which is the right trade for redaction. ``hold`` defaults to half a second
of frames (``hold_frames(fps)``, at least 3). Association is greedy by IoU (at least
``MIN_IOU``), or by centre distance for a small fast face whose boxes no longer overlap;
velocity is the last displacement per frame. See docs/design/redaction.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]  # x, y, w, h
Frame = npt.NDArray[np.uint8]

DETECT_WIDTH = 640
SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 3
MIN_SIZE = 20
MIN_IOU = 0.2
COAST_GROWTH = 0.08  # a predicted box grows 8 % per frame since the face was last seen
HOLD_SECONDS = 0.5

_FRONTAL = ("haarcascade_frontalface_default.xml", "haarcascade_frontalface_alt2.xml")
_PROFILE = "haarcascade_profileface.xml"


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"cannot load the Haar cascade {path}")
    return cascade


def hold_frames(fps: float) -> int:
    """Frames a lost face stays blurred: half a second, at least 3."""
    return max(3, math.ceil(HOLD_SECONDS * fps))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = min(ax1, bx1) - max(a[0], b[0])
    h = min(ay1, by1) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _merge(boxes: list[Box]) -> list[Box]:
    """Union of boxes that overlap (IoU >= 0.3 or one inside the other), repeatedly."""
    merged = [list(b) for b in boxes]
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                inside = iou(a, b) * max(a[2] * a[3], b[2] * b[3]) >= 0.8 * min(
                    a[2] * a[3], b[2] * b[3]
                )
                if iou(a, b) >= 0.3 or inside:
                    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
                    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
                    merged[i] = [x0, y0, x1 - x0, y1 - y0]
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return [(b[0], b[1], b[2], b[3]) for b in merged]


class FaceDetector:
    """Haar cascades, frontal and profile; see the module docstring."""

    def __init__(self, *, width: int = DETECT_WIDTH, min_neighbors: int = MIN_NEIGHBORS) -> None:
        self.width = width
        self.min_neighbors = min_neighbors
        self._frontal = [_cascade(name) for name in _FRONTAL]
        self._profile = _cascade(_PROFILE)

    def _run(self, cascade: cv2.CascadeClassifier, gray: Frame) -> list[Box]:
        found = cascade.detectMultiScale(
            gray,
            scaleFactor=SCALE_FACTOR,
            minNeighbors=self.min_neighbors,
            minSize=(MIN_SIZE, MIN_SIZE),
        )
        return [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]

    def detect(self, frame: Frame) -> list[Box]:
        h, w = frame.shape[:2]
        scale = min(1.0, self.width / w)
        small = frame
        if scale < 1.0:
            size = (round(w * scale), round(h * scale))
            small = np.asarray(cv2.resize(frame, size, interpolation=cv2.INTER_AREA), np.uint8)
        gray = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8)
        sw = gray.shape[1]
        boxes = [b for cascade in self._frontal for b in self._run(cascade, gray)]
        boxes += self._run(self._profile, gray)
        mirrored = np.ascontiguousarray(gray[:, ::-1])
        boxes += [(sw - x - bw, y, bw, bh) for x, y, bw, bh in self._run(self._profile, mirrored)]
        back = 1.0 / scale
        full = [
            (round(x * back), round(y * back), round(bw * back), round(bh * back))
            for x, y, bw, bh in boxes
        ]
        return _merge(full)


@dataclass(frozen=True)
class TrackedBox:
    box: Box
    detected: bool  # found by the detector in this frame (False: held by tracking)


@dataclass
class _Track:
    box: tuple[float, float, float, float]
    velocity: tuple[float, float]  # centre displacement per frame
    last: int  # frame of the last detection


def _centre(box: Sequence[float]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _near(track: _Track, box: Box, gap: int) -> float:
    """How well ``box`` continues ``track`` after ``gap`` frames (0: not at all)."""
    predicted = _predict(track, gap)
    score = iou(predicted, box)
    if score >= MIN_IOU:
        return score
    (px, py), (bx, by) = _centre(predicted), _centre(box)
    reach = 0.75 * max(predicted[2], box[2])
    distance = math.hypot(px - bx, py - by)
    return 0.1 * (1 - distance / reach) if distance < reach else 0.0


def _predict(track: _Track, gap: int) -> tuple[float, float, float, float]:
    x, y, w, h = track.box
    cx, cy = x + w / 2 + track.velocity[0] * gap, y + h / 2 + track.velocity[1] * gap
    grow = 1.0 + COAST_GROWTH * max(0, gap - 1)
    return cx - w * grow / 2, cy - h * grow / 2, w * grow, h * grow


def _forward(detections: Sequence[Sequence[Box]], hold: int) -> list[list[TrackedBox]]:
    tracks: list[_Track] = []
    out: list[list[TrackedBox]] = []
    for index, found in enumerate(detections):
        unmatched = list(found)
        pairs = sorted(
            (
                (_near(track, box, index - track.last), t, b)
                for t, track in enumerate(tracks)
                for b, box in enumerate(unmatched)
            ),
            reverse=True,
        )
        used_t: set[int] = set()
        used_b: set[int] = set()
        for score, t, b in pairs:
            if score <= 0 or t in used_t or b in used_b:
                continue
            used_t.add(t)
            used_b.add(b)
            track, box = tracks[t], unmatched[b]
            gap = index - track.last
            (ox, oy), (nx, ny) = _centre(track.box), _centre(box)
            track.velocity = ((nx - ox) / gap, (ny - oy) / gap)
            track.box = tuple(float(v) for v in box)  # type: ignore[assignment]
            track.last = index
        for b, box in enumerate(unmatched):
            if b not in used_b:
                tracks.append(_Track(tuple(float(v) for v in box), (0.0, 0.0), index))  # type: ignore[arg-type]
        tracks = [track for track in tracks if index - track.last <= hold]
        frame: list[TrackedBox] = [TrackedBox(tuple(box), True) for box in found]  # type: ignore[arg-type]
        for track in tracks:
            gap = index - track.last
            if gap:
                x, y, w, h = _predict(track, gap)
                frame.append(TrackedBox((round(x), round(y), round(w), round(h)), False))
        out.append(frame)
    return out


def track(detections: Sequence[Sequence[Box]], hold: int) -> list[list[TrackedBox]]:
    """The boxes to blur per frame; see the module docstring. Runs the tracker forwards
    and backwards in time (redaction is offline, so a face is also hidden in the frames
    just before it was first detected) and keeps both sets of boxes."""
    if hold < 0:
        raise ValueError(f"hold must be >= 0, got {hold}")
    ahead = _forward(detections, hold)
    behind = _forward(detections[::-1], hold)[::-1]
    return [a + [box for box in b if not box.detected] for a, b in zip(ahead, behind, strict=True)]
