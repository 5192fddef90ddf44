"""The motion detector: one small gray frame in, a ``FrameResult`` out.

Contract::

    settings = DetectorSettings.from_config(camera.motion)
    detector = Detector(settings)
    result = detector.process(luma)   # H x W uint8 at the analysis size (frames.luma)
    detector.reset()                  # forget the background (reconnect, new stream)

The pipeline per frame (docs/design/motion.md explains each step and its numbers):

1. blur (box 3x3): sensor noise, compression ringing and rain streaks shrink;
2. contrast normalisation: the frame is scaled to a fixed mean and spread, so a slow
   light ramp, a moderate gain change and the camera's IR switch to a flat gray
   picture all look (nearly) like the picture before;
3. light-jump check: a sudden change of the mean brightness (more than ``light_jump``)
   resets the background to this frame ("recalibrated"; never motion);
4. absolute difference with the background (a running average of normalised frames),
   thresholded against a per-pixel threshold image that holds each zone's sensitivity
   and the masks (masked and out-of-zone pixels can never pass);
5. global-change check: when a large share of a coarse grid changed at once, the whole
   picture changed rather than something in it: recalibrate;
6. speckle filter (the preset's: median or erosion), dilation, then the outer contours
   as boxes, kept when their area in % of the frame reaches the zone's minimum, they
   hold enough changed pixels, and part of them is *moving now* (changed against the
   frame ``moving_seconds`` ago as well), so a thing that arrived and stopped (a parcel)
   stops counting at once while a standing visitor's small movements keep showing;
7. the background absorbs the frame (time constant ``absorb_seconds``).

The first frame after construction, ``reset`` or a size change only initialises the
background (``recalibrated=True``, never motion): no warm-up burst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from nvr.config.cameras import MotionConfig
from nvr.motion.types import Box, FrameResult

__all__ = [
    "PRESETS",
    "Detector",
    "DetectorSettings",
    "Preset",
    "ZoneRaster",
    "ZoneSpec",
    "rasterise",
]

SensitivityName = Literal["low", "medium", "high"]
Point = tuple[float, float]
Polygon = tuple[Point, ...]
Gray = npt.NDArray[np.uint8]

ALL_ZONE = "all"  # the implicit whole-frame zone when a camera defines none


@dataclass(frozen=True)
class Preset:
    """``threshold``: change (in normalised gray levels, 0..255) a pixel needs to count;
    ``min_area``: smallest moving box that counts, as a fraction of the frame's area;
    ``speckle``: how changed pixels are cleaned before they are grouped into regions
    (``median``: 3x3 median, drops isolated pixels and 1-pixel lines; ``erode``: also
    drops anything thinner than 3 pixels, at the cost of about one analysed frame of
    latency for things entering at the edge). Zones override threshold and area; the
    speckle filter is the camera's."""

    threshold: int
    min_area: float
    speckle: Literal["none", "median", "erode"]


PRESETS: dict[SensitivityName, Preset] = {
    "low": Preset(threshold=34, min_area=0.006, speckle="erode"),
    "medium": Preset(threshold=26, min_area=0.003, speckle="median"),
    "high": Preset(threshold=18, min_area=0.0012, speckle="none"),
}


@dataclass(frozen=True)
class ZoneSpec:
    """A named polygon (fractions of the frame) with its own sensitivity."""

    name: str
    points: Polygon
    sensitivity: SensitivityName


@dataclass(frozen=True)
class DetectorSettings:
    """Everything the detector and the frame gate need; a pure value (no state)."""

    sensitivity: SensitivityName = "medium"
    zones: tuple[ZoneSpec, ...] = ()
    masks: tuple[Polygon, ...] = ()
    fps: float = 5.0  # analysed frames per second (frames.RateGate)
    analysis_height: int = 180
    absorb_seconds: float = 1.2  # background time constant: stillness is absorbed
    global_change: float = 0.6  # share of grid cells changed at once -> recalibrate
    light_jump: float = 0.15  # relative change of mean brightness at once -> recalibrate
    moving_seconds: float = 0.4  # "moving now": changed within this long (in frames: >= 1)

    def __post_init__(self) -> None:
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.analysis_height < 8:
            raise ValueError(f"analysis_height must be >= 8, got {self.analysis_height}")
        if not self.absorb_seconds > 0 or not self.moving_seconds > 0:
            raise ValueError("absorb_seconds and moving_seconds must be positive")

    @classmethod
    def from_config(cls, motion: MotionConfig) -> DetectorSettings:
        return cls(
            sensitivity=motion.sensitivity,
            zones=tuple(
                ZoneSpec(z.name, tuple(z.points), z.sensitivity or motion.sensitivity)
                for z in motion.zones
            ),
            masks=tuple(tuple(m.points) for m in motion.masks),
            fps=motion.fps,
            analysis_height=motion.analysis_height,
        )

    @property
    def learning_rate(self) -> float:
        """Weight of each new frame in the running-average background."""
        return 1.0 - math.exp(-1.0 / (self.fps * self.absorb_seconds))

    @property
    def moving_frames(self) -> int:
        """How many analysed frames back "moving now" compares with."""
        return max(1, round(self.moving_seconds * self.fps))

    def effective_zones(self) -> tuple[ZoneSpec, ...]:
        """The zones motion counts in: the configured ones, or the whole frame."""
        if self.zones:
            return self.zones
        whole: Polygon = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
        return (ZoneSpec(ALL_ZONE, whole, self.sensitivity),)


@dataclass(frozen=True)
class ZoneRaster:
    """The zones and masks drawn at one frame size (``h x w`` uint8 images, 255 = inside).

    ``thresholds`` holds, per pixel, the change needed to count (255 = never: masked or
    outside every zone); where zones overlap the most sensitive one wins.
    """

    shape: tuple[int, int]
    zone_names: tuple[str, ...]
    zones: tuple[Gray, ...]
    mask: Gray  # 255 where masks are (ignored)
    thresholds: Gray
    min_areas: tuple[float, ...]  # per zone
    watched_pixels: int


def _fill(image: Gray, polygon: Polygon) -> None:
    h, w = image.shape
    pts = np.array([(x * w, y * h) for x, y in polygon], np.float64)
    # Sub-pixel corners (shift=4): the same fractions cover the same share at any size.
    fixed = np.round(pts * 16).astype(np.int32)
    cv2.fillPoly(image, [fixed], 255, lineType=cv2.LINE_8, shift=4)


def rasterise(settings: DetectorSettings, shape: tuple[int, int]) -> ZoneRaster:
    """Draw the settings' zones and masks at ``shape`` (rows, columns). Pure."""
    mask = np.zeros(shape, np.uint8)
    for polygon in settings.masks:
        _fill(mask, polygon)
    thresholds = np.full(shape, 255, np.uint8)
    zones: list[Gray] = []
    for zone in settings.effective_zones():
        inside = np.zeros(shape, np.uint8)
        _fill(inside, zone.points)
        inside[mask > 0] = 0  # masks win over zones
        zones.append(inside)
        level = PRESETS[zone.sensitivity].threshold
        np.minimum(thresholds, np.where(inside > 0, level, 255).astype(np.uint8), out=thresholds)
    spec = settings.effective_zones()
    return ZoneRaster(
        shape=shape,
        zone_names=tuple(z.name for z in spec),
        zones=tuple(zones),
        mask=mask,
        thresholds=thresholds,
        min_areas=tuple(PRESETS[z.sensitivity].min_area for z in spec),
        watched_pixels=max(1, int(np.count_nonzero(thresholds < 255))),  # 1: all masked
    )


_TARGET_MEAN, _TARGET_STD = 128.0, 48.0
_GRID = (16, 9)  # cells of the global-change check (columns, rows)
_MIN_MOVING = 4  # pixels changed within moving_seconds that make a region "moving now"
_GLOBAL_CHECK = 0.15  # share of the watched area changed before the grid check runs
_SOLIDITY = 0.1  # a region needs changed pixels >= this share of the smallest box


class Detector:
    """Stateful per camera (the background); see the module docstring."""

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self._raster: ZoneRaster | None = None
        self._background: Gray | None = None
        self._level = 0.0  # running average of the raw mean brightness
        self._buffers_shape: tuple[int, int] | None = None

    def reset(self) -> None:
        """Forget the background: the next frame initialises it."""
        self._background = None

    def zone_masks(self, shape: tuple[int, int]) -> ZoneRaster:
        """The zones and masks as drawn at ``shape`` (for drawing them, e.g. by ``tune``).

        The detector's own raster when ``shape`` is the analysis size; any other size is
        drawn afresh and leaves the detector's state alone."""
        if self._raster is not None and self._raster.shape == shape:
            return self._raster
        return rasterise(self.settings, shape)

    def _allocate(self, shape: tuple[int, int]) -> ZoneRaster:
        raster = self._raster = rasterise(self.settings, shape)
        self._buffers_shape = shape
        self._blur = np.empty(shape, np.uint8)
        self._norm = np.empty(shape, np.uint8)
        self._diff = np.empty(shape, np.uint8)
        self._fg = np.empty(shape, np.uint8)
        self._dilated = np.empty(shape, np.uint8)
        self._moving = np.empty(shape, np.uint8)
        self._cells = np.empty((_GRID[1], _GRID[0]), np.uint8)
        # The last few analysed frames, normalised (a ring; _oldest is the next to go).
        self._history = [np.empty(shape, np.uint8) for _ in range(self.settings.moving_frames)]
        self._oldest = 0
        k = max(3, (shape[0] // 36) | 1)
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        self._small_kernel = np.ones((3, 3), np.uint8)
        self._min_pixels = max(
            _MIN_MOVING, round(_SOLIDITY * min(raster.min_areas) * shape[0] * shape[1])
        )
        self._background = None
        return raster

    def process(self, luma: Gray) -> FrameResult:
        shape = (int(luma.shape[0]), int(luma.shape[1]))
        raster = self._raster
        if raster is None or raster.shape != shape or self._buffers_shape != shape:
            raster = self._allocate(shape)
        cv2.blur(luma, (3, 3), dst=self._blur)
        mean_, std_ = cv2.meanStdDev(self._blur)
        mean, std = float(mean_[0, 0]), float(std_[0, 0])
        alpha = _TARGET_STD / max(std, 4.0)
        norm = self._norm
        cv2.convertScaleAbs(self._blur, dst=norm, alpha=alpha, beta=_TARGET_MEAN - alpha * mean)
        background = self._background
        if background is None:
            self._background = norm.copy()
            return self._recalibrate(self._background, mean)
        a = self.settings.learning_rate
        level = self._level
        if abs(mean - level) > self.settings.light_jump * max(level, 1.0):
            # A sudden light change: normalisation cannot undo clipped highlights and
            # lost edges, so start the background afresh from this frame.
            return self._recalibrate(background, mean)
        self._level = level + a * (mean - level)
        cv2.absdiff(norm, background, dst=self._diff)
        cv2.compare(self._diff, raster.thresholds, cv2.CMP_GT, dst=self._fg)
        changed = cv2.countNonZero(self._fg)
        if changed > _GLOBAL_CHECK * raster.watched_pixels and self._global_change():
            return self._recalibrate(background, mean)
        result = self._regions(raster, changed) if changed >= self._min_pixels else None
        cv2.addWeighted(norm, a, background, 1.0 - a, 0.0, dst=background)
        oldest = self._history[self._oldest]
        np.copyto(oldest, norm)
        self._oldest = (self._oldest + 1) % len(self._history)
        if result is None:
            return FrameResult(motion=False, score=changed / raster.watched_pixels)
        return result

    def _global_change(self) -> bool:
        """Whether most cells of a coarse grid changed: a change of the whole picture (the
        IR switch, a light jump), not something moving in it."""
        cv2.resize(self._diff, _GRID, dst=self._cells, interpolation=cv2.INTER_AREA)
        level = PRESETS[self.settings.sensitivity].threshold // 2
        changed = int(np.count_nonzero(self._cells > level))
        return changed >= self.settings.global_change * self._cells.size

    def _recalibrate(self, background: Gray, mean: float) -> FrameResult:
        np.copyto(background, self._norm)
        for old in self._history:
            np.copyto(old, self._norm)
        self._level = mean
        return FrameResult(motion=False, score=0.0, recalibrated=True)

    def _regions(self, raster: ZoneRaster, changed: int) -> FrameResult | None:
        """Boxes of the changed regions that count, or ``None`` when none does."""
        h, w = raster.shape
        frame_area = float(h * w)
        # What changed within the last moments: a region counts only if some of it moves
        # now, so what arrived and stopped (a parcel) stops counting at once.
        cv2.absdiff(self._norm, self._history[self._oldest], dst=self._moving)
        cv2.compare(self._moving, raster.thresholds, cv2.CMP_GT, dst=self._moving)
        speckle = PRESETS[self.settings.sensitivity].speckle
        if speckle == "median":  # drops isolated pixels and 1-pixel lines (rain, noise)
            cv2.medianBlur(self._fg, 3, dst=self._fg)
        elif speckle == "erode":  # drops anything thinner than 3 pixels
            cv2.erode(self._fg, self._small_kernel, dst=self._fg)
        cv2.dilate(self._fg, self._kernel, dst=self._dilated)
        contours, _ = cv2.findContours(self._dilated, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        smallest, min_pixels = min(raster.min_areas), self._min_pixels
        several = len(raster.zones) > 1
        boxes: list[Box] = []
        zones: set[str] = set()
        for contour in contours:
            x, y, bw, bh = cv2.boundingRect(contour)
            area = bw * bh / frame_area
            if area < smallest:
                continue
            fg = self._fg[y : y + bh, x : x + bw]
            if (
                cv2.countNonZero(fg) < min_pixels
                or cv2.countNonZero(self._moving[y : y + bh, x : x + bw]) < _MIN_MOVING
            ):
                continue
            if several:
                touched = [
                    i
                    for i, zone in enumerate(raster.zones)
                    if area >= raster.min_areas[i]
                    and cv2.countNonZero(cv2.bitwise_and(fg, zone[y : y + bh, x : x + bw]))
                ]
                if not touched:
                    continue
                zones.update(raster.zone_names[i] for i in touched)
            elif area < raster.min_areas[0]:
                continue
            boxes.append(Box(x / w, y / h, bw / w, bh / h))
        if not boxes:
            return None
        boxes.sort(key=lambda b: b.area, reverse=True)
        return FrameResult(
            motion=True,
            score=changed / raster.watched_pixels,
            boxes=tuple(boxes),
            zones=tuple(sorted(zones)) if several else raster.zone_names,
        )
