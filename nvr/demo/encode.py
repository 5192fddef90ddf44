"""H.264 encoding of synthetic scenes with PyAV's libx264, for files and for a live feed.

Contract:

- ``encode_clip(scene, path, seconds)`` writes an MP4 with one H.264 (yuv420p) video
  stream at the scene's constant frame rate, frame ``i`` at ``pts = i / fps`` seconds, a
  keyframe exactly every ``gop_seconds`` and no B-frames (like a doorbell camera), and
  returns the ground truth of every frame written, in order.
- ``LiveEncoder(scene, clock=...)`` renders and encodes the scene *paced to real time*:
  iterating ``packets(stop)`` blocks until each frame is due and yields ``LivePacket``s
  (Annex B ``av.Packet`` plus the capture instant on the clock). It is camera-like: preset
  ultrafast + tune zerolatency (one frame in, one packet out), fixed GOP, SPS/PPS repeated
  in front of every keyframe so a receiver can start at any keyframe. Run it in a worker
  thread: it sleeps and burns CPU, and never touches an event loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.video.codeccontext import VideoCodecContext

from nvr.clock import Clock
from nvr.demo.porch import Image
from nvr.demo.scene import FrameTruth, Scene

log = logging.getLogger(__name__)

# Fixed GOP, no scene-cut keyframes and no B-frames: what cameras send, and what makes
# "a keyframe every N frames" a property tests can check.
_CAMERA_X264 = "keyint={g}:min-keyint={g}:scenecut=0:bframes=0"


def gop_frames(fps: int, gop_seconds: float) -> int:
    """Frames per GOP (at least 1)."""
    return max(1, round(fps * gop_seconds))


def _frame(image: Image, pts: int, time_base: Fraction) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")
    frame.pts = pts
    frame.time_base = time_base
    return frame


def encode_clip(
    scene: Scene, path: Path, seconds: float, *, gop_seconds: float = 2.0, crf: int = 23
) -> list[FrameTruth]:
    """Encode ``seconds`` of ``scene`` into an H.264 MP4 at ``path``; return each frame's truth."""
    count = round(seconds * scene.fps)
    if count <= 0:
        raise ValueError(f"clip of {seconds} s at {scene.fps} fps has no frames")
    g = gop_frames(scene.fps, gop_seconds)
    time_base = Fraction(1, scene.fps)
    truths: list[FrameTruth] = []
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=scene.fps)
        stream.width, stream.height = scene.width, scene.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        stream.codec_context.gop_size = g
        stream.options = {
            "crf": str(crf),
            "preset": "veryfast",
            "x264-params": _CAMERA_X264.format(g=g),
        }
        for index in range(count):
            image, truth = scene.render(index)
            truths.append(truth)
            container.mux(stream.encode(_frame(image, index, time_base)))
        container.mux(stream.encode(None))
    return truths


@dataclass(frozen=True)
class LivePacket:
    """One encoded frame of the live feed and when it was "captured"."""

    packet: av.Packet[Any]  # Annex B; pts in 1/fps units; keyframes start with SPS and PPS
    monotonic: float  # capture instant on the encoder's clock (seconds)
    wall: datetime  # the same instant in UTC
    truth: FrameTruth


class LiveEncoder:
    """Render ``scene`` and encode it as a camera would, one frame when each is due."""

    def __init__(
        self,
        scene: Scene,
        *,
        clock: Clock,
        gop_seconds: float = 2.0,
        preset: str = "ultrafast",
        qp: int = 28,
    ) -> None:
        self.scene = scene
        self.gop = gop_frames(scene.fps, gop_seconds)
        self.time_base = Fraction(1, scene.fps)
        self._clock = clock
        self._preset = preset
        self._qp = qp
        self.frames_skipped = 0  # frames dropped to catch up after falling behind

    def _codec(self) -> VideoCodecContext:
        ctx = av.CodecContext.create("libx264", "w")
        assert isinstance(ctx, VideoCodecContext)
        ctx.width, ctx.height = self.scene.width, self.scene.height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = self.time_base
        ctx.framerate = Fraction(self.scene.fps)
        ctx.gop_size = self.gop
        # No global header: libx264 then writes SPS/PPS into every keyframe itself
        # (repeat-headers), which is what lets a viewer join at any keyframe.
        ctx.options = {
            "preset": self._preset,
            "tune": "zerolatency",
            # Constant QP, not CRF: on a mostly static porch CRF makes each keyframe ~7x
            # bigger than the first (it spends what the tiny P-frames saved), bursting to
            # ~200 kB per keyframe at 960x540. A flat QP keeps keyframes ~18 kB.
            "qp": str(self._qp),
            "x264-params": _CAMERA_X264.format(g=self.gop) + ":repeat-headers=1",
        }
        return ctx

    def packets(self, stop: threading.Event) -> Iterator[LivePacket]:
        """Yield packets in real time until ``stop`` is set (blocks between frames)."""
        ctx = self._codec()
        fps = self.scene.fps
        mono0, wall0 = self._clock.monotonic(), self._clock.wall()
        index = 0
        while not stop.is_set():
            due = mono0 + index / fps
            lag = self._clock.monotonic() - due
            if lag < 0:
                if stop.wait(-lag):
                    break
            elif lag > 1.0:
                # Too slow for real time (a busy Pi): skip ahead rather than drift, as a
                # camera drops frames. Timestamps stay true to the wall clock.
                skip = int(lag * fps)
                self.frames_skipped += skip
                log.warning("demo encoder is %.1f s behind; skipping %d frames", lag, skip)
                index += skip
                continue
            image, truth = self.scene.render(index)
            # Every GOP starts with a forced keyframe, so the GOP grid never drifts even
            # after skipped frames.
            frame = _frame(image, index, self.time_base)
            if index % self.gop == 0:
                frame.pict_type = av.video.frame.PictureType.I
            for packet in ctx.encode(frame):
                yield LivePacket(
                    packet=packet,
                    monotonic=due,
                    wall=wall0 + timedelta(seconds=due - mono0),
                    truth=truth,
                )
            index += 1
