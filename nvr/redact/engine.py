"""The redaction engine: a clip's MP4 in, a redacted H.264 MP4 out.

Contract::

    result = redact(clip_bytes, RedactionPlan(faces=True, masks=..., text=..., audio=False),
                    start=clip.start, progress=callback, cancel=event)
    result.data      # H.264 MP4, moov first (faststart)
    result.report    # RedactionReport: frames, faces per frame, frames held by tracking ...

``clip_bytes`` is a playable MP4 such as ``nvr.playback.build_clip`` makes from the
encrypted segments (decrypted in memory; nothing here touches the disk). Every frame is
decoded, redacted and re-encoded with libx264 (yuv420p, no B-frames) at the same frame
rate with the same presentation timestamps, so the output has the same frame count and
duration as the input. ``start`` (the UTC time of the first frame) goes into the MP4's
``creation_time`` and, with the end, into its ``comment`` tag (an MP4 has no field for
a frame's wall-clock time; t = start + pts).

What a frame goes through, in order:

1. faces (``plan.faces``): the boxes of ``nvr.redact.faces`` (Haar detection on every frame,
   then tracking forwards and backwards so a face missed for up to ``hold`` frames is still
   covered), enlarged by a margin, pixelated to a coarse grid and then Gaussian-blurred
   (``obscure``): what remains of a face is a few dozen averaged colours, which no
   deblurring can turn back into a face;
2. privacy masks (``plan.masks``: polygons in fractions 0..1 of the picture, as the camera
   config's ``privacy_masks``): filled solid, so nothing under them survives at all;
3. release text (``plan.text``): drawn in white on a black band across the bottom of the
   picture (``cv2.putText`` draws ASCII only: other characters are transliterated or
   replaced by ``?``).

Audio (``plan.audio``): left out unless asked for; then the source's AAC track is copied
packet for packet (no re-encoding), timestamps untouched, so sync is what the clip had.

Detection runs in a first pass over the decoded frames and keeps only boxes; the second
pass decodes again, redacts and encodes. Both passes call ``progress(done, total)`` (total
is twice the frame count; the first half is detection) and check ``cancel`` once per
frame, raising ``Cancelled``. Synchronous and CPU-bound: run it in a worker thread (the
detector and encoder are per call, so calls in different threads do not interfere).
``preview`` is the same with the output scaled down and encoded faster; its frames are
redacted exactly as the release's (detection always runs on the full-size frame).
"""

from __future__ import annotations

import io
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import av
import cv2
import numpy as np
from av.container import InputContainer

from nvr.config.cameras import CameraConfig
from nvr.playback.faststart import faststart
from nvr.redact.faces import Box, FaceDetector, Frame, TrackedBox, hold_frames, track

Point = tuple[float, float]
Polygon = tuple[Point, ...]
Progress = Callable[[int, int], None]

# The face box grows by these fractions of its size on each side: Haar boxes are tight
# around eyes, nose and mouth, and leave out forehead, hair, ears and chin.
MARGIN_SIDES, MARGIN_TOP, MARGIN_BOTTOM = 0.25, 0.35, 0.25
PIXEL_CELLS = 4  # the enlarged face box is averaged into about 4 x 4 cells
MASK_COLOUR = (24, 24, 24)
BAND_COLOUR = (0, 0, 0)
TEXT_COLOUR = (255, 255, 255)
RELEASE_CRF, PREVIEW_CRF = 20, 28
PREVIEW_WIDTH = 640


class Cancelled(Exception):
    """The caller set the cancel event; nothing was produced."""


class RedactionError(ValueError):
    """The input is not a clip this engine can redact (no video, undecodable)."""


@dataclass(frozen=True)
class RedactionPlan:
    """What to do to a clip before it leaves the box (the consent record holds it)."""

    faces: bool = True
    masks: tuple[Polygon, ...] = ()  # privacy masks, (x, y) fractions of the picture
    text: str | None = None  # burned-in release text, e.g. "Released to ... - request #3"
    audio: bool = False  # keep the clip's audio track (copied, never re-encoded)

    def __post_init__(self) -> None:
        for polygon in self.masks:
            if len(polygon) < 3:
                raise ValueError("a mask needs at least three points")
            for x, y in polygon:
                if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                    raise ValueError(f"mask point {(x, y)} is outside 0..1")
        if self.text is not None and not self.text.strip():
            raise ValueError("release text must not be blank; leave it out instead")

    def as_record(self) -> dict[str, Any]:
        """JSON-ready form for the consent record and the bundle's manifest."""
        return {
            "faces": self.faces,
            "masks": [[list(p) for p in polygon] for polygon in self.masks],
            "text": self.text,
            "audio": self.audio,
        }


@dataclass
class RedactionReport:
    """What the engine did, frame by frame (the consent record includes it)."""

    frames: int = 0
    width: int = 0  # of the output
    height: int = 0
    faces_per_frame: list[int] = field(default_factory=list)  # detections in each frame
    blurred_per_frame: list[int] = field(default_factory=list)  # boxes blurred in each frame
    tracked_frames: list[int] = field(default_factory=list)  # frames with a box held by tracking
    hold_frames: int = 0  # how long tracking keeps a lost face (frames)
    audio: bool = False  # an audio track is in the output
    seconds: float = 0.0  # time taken

    @property
    def frames_with_faces(self) -> int:
        return sum(1 for n in self.faces_per_frame if n)

    @property
    def frames_tracked_only(self) -> int:
        """Frames blurred although the detector found no face in them."""
        return sum(
            1
            for found, blurred in zip(self.faces_per_frame, self.blurred_per_frame, strict=True)
            if blurred and not found
        )

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["frames_with_faces"] = self.frames_with_faces
        record["frames_tracked_only"] = self.frames_tracked_only
        return record


@dataclass(frozen=True)
class Redacted:
    data: bytes
    content_type: str
    report: RedactionReport


def enlarge(box: Box, width: int, height: int) -> Box | None:
    """The face box grown by the margins, clipped to the frame (``None``: outside)."""
    x, y, w, h = box
    x0 = max(0, round(x - w * MARGIN_SIDES))
    y0 = max(0, round(y - h * MARGIN_TOP))
    x1 = min(width, round(x + w * (1 + MARGIN_SIDES)))
    y1 = min(height, round(y + h * (1 + MARGIN_BOTTOM)))
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1 - x0, y1 - y0


def obscure(frame: Frame, box: Box) -> None:
    """Pixelate ``box`` of ``frame`` to about ``PIXEL_CELLS`` cells a side, then blur it
    with a Gaussian of one cell's sigma."""
    x, y, w, h = box
    roi = frame[y : y + h, x : x + w]
    cell = max(2, round(max(w, h) / PIXEL_CELLS))
    grid = (max(1, -(-w // cell)), max(1, -(-h // cell)))
    coarse = cv2.resize(roi, grid, interpolation=cv2.INTER_AREA)
    blocks = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST)
    roi[:] = cv2.GaussianBlur(blocks, (0, 0), cell)


def fill_masks(frame: Frame, masks: Sequence[Polygon]) -> None:
    h, w = frame.shape[:2]
    polygons = [
        np.array([(round(px * (w - 1)), round(py * (h - 1))) for px, py in polygon], np.int32)
        for polygon in masks
    ]
    if polygons:
        cv2.fillPoly(frame, polygons, MASK_COLOUR, cv2.LINE_8)


def ascii_text(text: str) -> str:
    """``text`` as cv2.putText can draw it: dashes and quotes mapped, accents dropped."""
    text = text.translate(
        {0x2013: "-", 0x2014: "-", 0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"'}
    )
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in plain)


def band_height(height: int) -> int:
    """Rows of the text band at the bottom of a frame ``height`` rows tall."""
    return max(16, round(height / 16))


def burn_text(frame: Frame, text: str) -> None:
    """A black band across the bottom with ``text`` in white, scaled to fit."""
    h, w = frame.shape[:2]
    band = band_height(h)
    frame[h - band :] = BAND_COLOUR
    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, round(band / 20))
    scale = band * 0.55 / cv2.getTextSize("Hg", font, 1.0, thickness)[0][1]
    width = cv2.getTextSize(text, font, scale, thickness)[0][0]
    if width > w - band:
        scale *= (w - band) / width
    (_, th), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = (band // 2, h - (band - th) // 2)
    cv2.putText(frame, text, origin, font, scale, TEXT_COLOUR, thickness, cv2.LINE_AA)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("redaction cancelled")


def _open(data: bytes) -> InputContainer:
    try:
        container = av.open(io.BytesIO(data), "r")
    except av.error.FFmpegError as exc:
        raise RedactionError(f"not a playable clip: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise RedactionError("the clip has no video")
    return container


def _frames(container: InputContainer) -> Iterator[av.VideoFrame]:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    yield from container.decode(stream)


def _detect(
    data: bytes,
    plan: RedactionPlan,
    progress: Progress | None,
    cancel: threading.Event | None,
) -> tuple[list[list[Box]], Fraction]:
    """Pass 1: every frame's face boxes (empty lists when faces are not redacted)."""
    with _open(data) as container:
        stream = container.streams.video[0]
        total = stream.frames
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        detector = FaceDetector() if plan.faces else None
        found: list[list[Box]] = []
        for frame in _frames(container):
            _check(cancel)
            if detector is not None:
                found.append(detector.detect(_bgr(frame)))
            else:
                found.append([])
            if progress is not None:
                progress(len(found), 2 * max(total, len(found)))
    return found, Fraction(rate)


def _bgr(frame: av.VideoFrame) -> Frame:
    return np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def redact(
    data: bytes,
    plan: RedactionPlan,
    *,
    start: datetime | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    width: int | None = None,
    crf: int = RELEASE_CRF,
    preset: str = "veryfast",
) -> Redacted:
    """Redact the MP4 ``data`` following ``plan``; see the module docstring.

    ``width``: scale the output down to this width (never up); ``None`` keeps the size.
    """
    began = time.monotonic()
    detections, rate = _detect(data, plan, progress, cancel)
    count = len(detections)
    if count == 0:
        raise RedactionError("the clip has no decodable frames")
    hold = hold_frames(float(rate))
    boxes: list[list[TrackedBox]] = track(detections, hold) if plan.faces else [[]] * count
    report = RedactionReport(
        frames=0,
        faces_per_frame=[len(found) for found in detections],
        hold_frames=hold,
    )
    out = io.BytesIO()
    with _open(data) as source, av.open(out, "w", format="mp4") as output:
        video = source.streams.video[0]
        tb = video.time_base or Fraction(1, 90_000)
        src_w, src_h = video.codec_context.width, video.codec_context.height
        out_w, out_h = src_w, src_h
        if width is not None and width < src_w:
            out_w, out_h = _even(width), _even(src_h * width / src_w)
        report.width, report.height = out_w, out_h
        stream = output.add_stream("libx264", rate=rate)
        stream.width, stream.height = out_w, out_h
        stream.pix_fmt = "yuv420p"
        stream.time_base = tb
        stream.options = {"crf": str(crf), "preset": preset, "x264-params": "bframes=0"}
        audio = source.streams.audio[0] if plan.audio and source.streams.audio else None
        track_out = output.add_stream_from_template(audio) if audio is not None else None
        report.audio = track_out is not None
        if start is not None:
            first = start.astimezone(UTC)
            length = timedelta(seconds=float(count / rate))
            output.metadata["creation_time"] = first.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            output.metadata["comment"] = (
                f"Porchlight redacted clip; UTC {first.isoformat()} to "
                f"{(first + length).isoformat()}; frame time = start + pts"
            )
        streams = [video] if audio is None else [video, audio]
        index = 0
        last_pts: int | None = None
        for packet in source.demux(*streams):
            if audio is not None and packet.stream.index == audio.index:
                if packet.dts is None or track_out is None:
                    continue
                packet.stream = track_out
                output.mux(packet)
                continue
            for frame in packet.decode():
                _check(cancel)
                if index >= count or not isinstance(frame, av.VideoFrame):
                    break
                image = _bgr(frame)
                placed = _redact_frame(image, boxes[index], plan)
                report.blurred_per_frame.append(placed)
                if placed and not all(b.detected for b in boxes[index]):
                    report.tracked_frames.append(index)
                if (out_w, out_h) != (src_w, src_h):
                    image = np.asarray(
                        cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA), np.uint8
                    )
                encoded = av.VideoFrame.from_ndarray(image, format="bgr24").reformat(
                    format="yuv420p"
                )
                pts = frame.pts if frame.pts is not None else round(index / rate / tb)
                if last_pts is not None and pts <= last_pts:
                    pts = last_pts + 1
                encoded.pts, encoded.time_base = pts, tb
                last_pts = pts
                output.mux(stream.encode(encoded))
                index += 1
                if progress is not None:
                    progress(count + index, 2 * count)
        output.mux(stream.encode(None))
    report.frames = index
    report.seconds = time.monotonic() - began
    return Redacted(faststart(out.getvalue()), "video/mp4", report)


def _redact_frame(image: Frame, boxes: Sequence[TrackedBox], plan: RedactionPlan) -> int:
    """Redact one frame in place; return how many face boxes were blurred."""
    h, w = image.shape[:2]
    blurred = 0
    for tracked in boxes:
        area = enlarge(tracked.box, w, h)
        if area is not None:
            obscure(image, area)
            blurred += 1
    fill_masks(image, plan.masks)
    if plan.text:
        burn_text(image, ascii_text(plan.text))
    return blurred


def preview(
    data: bytes,
    plan: RedactionPlan,
    *,
    start: datetime | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    width: int = PREVIEW_WIDTH,
) -> Redacted:
    """The redacted clip at most ``width`` pixels wide, encoded faster: what the owner
    watches before consenting. The same frames are blurred and masked as in ``redact``."""
    return redact(
        data,
        plan,
        start=start,
        progress=progress,
        cancel=cancel,
        width=width,
        crf=PREVIEW_CRF,
        preset="ultrafast",
    )


def camera_masks(camera: CameraConfig) -> tuple[Polygon, ...]:
    """The camera's ``privacy_masks`` as ``RedactionPlan.masks``."""
    return tuple(tuple((x, y) for x, y in mask.points) for mask in camera.privacy_masks)
