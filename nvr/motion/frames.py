"""Decoded frames in, small gray analysis images out, at the configured analysis rate.

Contract:

- ``luma(frame, height)`` gives the picture's brightness as an ``H x W`` uint8 array,
  ``height`` rows high and as wide as keeps the aspect ratio (rounded to even). It reads
  the Y plane of yuv420p / yuvj420p / nv12 frames directly (no colour conversion, which
  is most of what a BGR conversion costs) and falls back to FFmpeg's gray conversion for
  any other pixel format. The result never shares memory with the frame (decoders reuse
  frame buffers).
- ``RateGate(fps).take(t)`` says whether the frame at ``t`` seconds is analysed, so that
  about ``fps`` frames a second are: it skips frames rather than queueing them, and a
  timestamp that jumps back (a reconnect, a wrapped clock) or far ahead restarts it.
- ``iter_file_frames(path, settings)`` decodes a video file and yields one ``FileFrame``
  per source frame, with the analysis image for the frames the gate takes. It is what
  ``nvr motion eval`` / ``tune`` and the benchmark use, so a file is analysed exactly as a
  live camera would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np
import numpy.typing as npt

from nvr.errors import UserError

__all__ = [
    "FileFrame",
    "FrameSettings",
    "Luma",
    "RateGate",
    "analysis_size",
    "iter_file_frames",
    "luma",
]

Luma = npt.NDArray[np.uint8]

# Pixel formats whose first plane is the full-resolution luma, 8 bits per sample.
_Y_PLANE_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "nv12", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv21", "gray"}
)


def analysis_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    """(width, height) of the analysis image: ``target_height`` high (never more than the
    source), width keeping the aspect ratio, rounded to an even number (at least 2)."""
    h = min(target_height, height)
    w = max(2, 2 * round(width * h / height / 2))
    return w, h


def _y_plane(frame: av.VideoFrame) -> Luma:
    if frame.format.name in _Y_PLANE_FORMATS:
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        return rows[: frame.height, : frame.width]
    gray = frame.reformat(format="gray")
    plane = gray.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width]


def luma(frame: av.VideoFrame, height: int) -> Luma:
    """The frame's luma at the analysis height (see the module docstring)."""
    y = _y_plane(frame)
    size = analysis_size(frame.width, frame.height, height)
    if size == (frame.width, frame.height):
        return np.array(y, copy=True)  # never a view of a buffer the decoder reuses
    return np.asarray(cv2.resize(y, size, interpolation=cv2.INTER_AREA), np.uint8)


class RateGate:
    """Chooses which frames to analyse so that about ``fps`` a second are (see module doc).

    State is the time the next frame is due; a frame at or after it (less a tenth of a
    period, so a 15 fps source sampled at 5 fps takes every third frame despite rounding)
    is taken and moves the due time one period on. If that is already past (the source
    is slower than ``fps``, or frames were lost) the due time restarts from the frame, so
    the gate never bursts to catch up.
    """

    # A jump ahead by more than this many periods is treated as a new stream.
    _JUMP_PERIODS = 20.0

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period = 1.0 / fps
        self._due: float | None = None
        self._last: float | None = None

    def reset(self) -> None:
        """Forget the past: the next frame is taken (use on reconnect)."""
        self._due = self._last = None

    def take(self, t: float) -> bool:
        due, last, period = self._due, self._last, self.period
        self._last = t
        restart = (
            due is None
            or last is None
            or t < last  # timestamps went back: a new stream
            or t > due + self._JUMP_PERIODS * period  # far ahead: a gap, start afresh
        )
        if restart:
            self._due = t + period
            return True
        assert due is not None
        if t < due - 0.1 * period:
            return False
        due += period
        self._due = due if due > t else t + period
        return True


class FrameSettings(Protocol):
    """What ``iter_file_frames`` needs of the settings (``DetectorSettings`` has it)."""

    @property
    def fps(self) -> float: ...

    @property
    def analysis_height(self) -> int: ...


@dataclass(frozen=True)
class FileFrame:
    """One decoded source frame: its index from 0, its time in seconds, the frame, and
    the analysis image when the rate gate took it (``None`` otherwise)."""

    index: int
    t: float
    frame: av.VideoFrame
    luma: Luma | None


def iter_file_frames(path: Path, settings: FrameSettings) -> Iterator[FileFrame]:
    """Decode the first video stream of ``path``, gating frames as a live camera would.

    Raises ``UserError`` when the file cannot be opened or has no video."""
    try:
        container = av.open(str(path))
    except (OSError, av.error.FFmpegError) as exc:
        raise UserError(f"cannot open video {path}: {exc}") from None
    with container:
        if not container.streams.video:
            raise UserError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        gate = RateGate(settings.fps)
        index = 0
        try:
            for frame in container.decode(stream):
                t: float | None = frame.time  # None when the stream has no timestamps
                if t is None:
                    t = index / rate if rate else float(index)
                taken = gate.take(t)
                image = luma(frame, settings.analysis_height) if taken else None
                yield FileFrame(index, t, frame, image)
                index += 1
        except av.error.FFmpegError as exc:
            raise UserError(f"cannot decode {path} at frame {index}: {exc}") from None
