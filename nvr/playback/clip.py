"""The playback primitive: camera + time range -> one MP4, stream-copied from segments.

``build_clip(store, identities, camera, start, end) -> Clip`` decrypts the segments that
overlap ``[start, end)`` in memory, demuxes each with PyAV and copies the video packets
(no decode, no encode) from the last keyframe at or before ``start`` up to ``end`` into one
regular MP4 with ``moov`` first, built in memory so its size is known for range requests.

Time: a frame's wall-clock time is its segment's ``start`` (the first frame's time, from
the index) plus its pts relative to the segment's first packet. Across a boundary, frames
of the earlier segment at or after the next segment's first frame (less half a frame) are
dropped (segments may overlap by a frame; the later keyframe wins, so the P-frames after
it still decode), and the next segment is placed right after the last kept frame, so
timestamps are continuous. A hole longer than ``max_gap`` (camera offline), or a change of
codec parameters, is not bridged: the clip stops there and ``Clip.gap`` says where footage
resumes (docs/design/playback.md). Video only: audio is not copied yet.

Errors: ``NoFootage`` when nothing playable lies in the range. Synchronous and CPU-bound:
call it from a worker thread. Nothing decrypted is written to disk.
"""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import av
from av.container import InputContainer

from nvr.crypto import Identity
from nvr.errors import UserError
from nvr.playback.faststart import faststart
from nvr.storage.segments import SegmentRecord, SegmentStore

log = logging.getLogger(__name__)

MAX_GAP = timedelta(milliseconds=500)
_US = timedelta(microseconds=1)
_DEFAULT_FRAME = Fraction(1, 30)  # only when a stream states neither durations nor a rate
# Opening a file decodes a frame to learn the pixel format, ~60 ms for a 1080p keyframe
# and most of a clip's build time; a stream copy needs no pixel format, so skip it.
_NO_DECODE = {"skip_frame": "all"}


class NoFootage(UserError):
    """No playable footage of the camera in the requested range."""


@dataclass(frozen=True)
class Gap:
    """The clip stopped at ``start``; footage resumes at ``end`` (``None``: not in range)."""

    start: datetime
    end: datetime | None
    reason: str  # "gap", "codec-change" or "end-of-footage"


@dataclass(frozen=True)
class Clip:
    data: bytes
    content_type: str
    camera: str
    start: datetime  # wall-clock time of the first frame (a keyframe at or before the request)
    end: datetime  # wall-clock time at which the last frame ends
    frames: int
    segments: tuple[int, ...]  # ids of the segments whose frames are in the clip
    gap: Gap | None  # set when the clip ends before the requested end

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class _Frame:
    packet: av.Packet[Any]
    wall: Fraction  # presentation time, seconds since the first segment's start
    dts: Fraction  # decode time, same scale
    duration: Fraction
    keyframe: bool
    segment: int


def _seconds(delta: timedelta) -> Fraction:
    return Fraction(delta // _US, 1_000_000)


def _signature(container: InputContainer) -> tuple[object, ...]:
    ctx = container.streams.video[0].codec_context
    return (ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b""))


def _demux(container: InputContainer, record: SegmentRecord, offset: Fraction) -> list[_Frame]:
    """The segment's video frames in decode order, from its first keyframe on."""
    stream = container.streams.video[0]
    tb = stream.time_base
    if tb is None:
        raise av.error.InvalidDataError(0, "video stream without a time base")
    rate = stream.average_rate or stream.guessed_rate
    fallback = Fraction(1) / Fraction(rate) if rate else _DEFAULT_FRAME
    frames: list[_Frame] = []
    first: int | None = None
    try:
        for packet in container.demux(stream):
            if packet.is_corrupt:  # torn by a crash (salvaged segment): stop before it
                log.warning("segment %s: torn packet at pts %s, stopping", record.id, packet.pts)
                break
            if packet.pts is None or packet.dts is None or packet.size == 0:
                continue
            if first is None:
                first = packet.pts
            if not frames and not packet.is_keyframe:
                continue  # undecodable without the frames before it
            frames.append(
                _Frame(
                    packet,
                    offset + (packet.pts - first) * tb,
                    offset + (packet.dts - first) * tb,
                    packet.duration * tb if packet.duration else Fraction(0),
                    packet.is_keyframe,
                    record.id,
                )
            )
    except av.error.FFmpegError as exc:
        # A salvaged (truncated) segment may end inside a fragment: keep what came before.
        log.warning("segment %s: demux stopped early: %s", record.id, exc)
    for this, after in itertools.pairwise(frames):
        if not this.duration:
            this.duration = after.wall - this.wall if after.wall > this.wall else fallback
    # A fragment's last sample has no successor, so muxers guess its duration (FFmpeg
    # writes a shortened one); the frame before it knows the real interval.
    if len(frames) > 1:
        frames[-1].duration = frames[-2].duration
    elif frames and not frames[-1].duration:
        frames[-1].duration = fallback
    return frames


def _mux(template: InputContainer, frames: Sequence[_Frame]) -> bytes:
    out_buffer = io.BytesIO()
    origin = frames[0].wall
    with av.open(out_buffer, "w", format="mp4") as output:
        stream = output.add_stream_from_template(template.streams.video[0])
        tb = template.streams.video[0].time_base
        assert tb is not None
        stream.time_base = tb
        last_dts: int | None = None
        for frame in frames:
            packet = frame.packet
            pts = round((frame.wall - origin) / tb)
            dts = round((frame.dts - origin) / tb)
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1
            packet.pts, packet.dts = max(pts, dts), dts
            packet.duration = max(1, round(frame.duration / tb))
            packet.time_base = tb
            packet.stream = stream
            output.mux(packet)
            last_dts = dts
    return faststart(out_buffer.getvalue())


def build_clip(
    store: SegmentStore,
    identities: Sequence[Identity],
    camera: str,
    start: datetime,
    end: datetime,
    *,
    max_gap: timedelta = MAX_GAP,
) -> Clip:
    """One MP4 of ``camera`` over ``[start, end)``; see the module docstring."""
    if start >= end:
        raise ValueError("start must be before end")
    records = store.find(camera, start, end)
    if not records:
        raise NoFootage(f"no footage of {camera!r} between {start} and {end}")
    epoch = records[0].start
    start_s, end_s, gap_s = _seconds(start - epoch), _seconds(end - epoch), _seconds(max_gap)
    kept: list[_Frame] = []  # frames in the clip, or (before start) the GOP leading to it
    started = False
    template: InputContainer | None = None
    signature: tuple[object, ...] | None = None
    gap: tuple[Fraction, Fraction | None, str] | None = None
    try:
        for record in records:
            with store.open_plaintext(record, identities) as plain:
                container = av.open(plain, "r", format="mp4", options=_NO_DECODE)
                if not container.streams.video:
                    container.close()
                    continue
                frames = _demux(container, record, _seconds(record.start - epoch))
            if not frames:
                container.close()
                continue
            head = frames[0]
            if kept:
                eps = head.duration / 2
                while kept and kept[-1].wall >= head.wall - eps:
                    kept.pop()  # the same instant again: the new segment's keyframe wins
            if kept:
                tail_end = kept[-1].wall + kept[-1].duration
                hole = head.wall - tail_end
                broken = "gap" if hole > gap_s else None
                if _signature(container) != signature:
                    broken = "codec-change"
                if broken and started:
                    container.close()
                    gap = (tail_end, head.wall, broken)
                    break
                if broken:
                    kept = []  # before the requested start: just start afresh here
                else:
                    for frame in frames:  # snap onto the timeline: no hole, no overlap
                        frame.wall -= hole
                        frame.dts -= hole
            if not kept:
                if template is not None:
                    template.close()
                template, signature = container, _signature(container)
            else:
                container.close()
            done = False
            for frame in frames:
                if frame.dts >= end_s:
                    done = True
                    break
                if not started:
                    if frame.keyframe:
                        kept = [frame]  # the latest keyframe at or before start
                    elif kept:
                        kept.append(frame)
                    started = frame.wall >= start_s and bool(kept)
                    continue
                kept.append(frame)
            if done:
                break
        if not started or template is None or not kept:
            raise NoFootage(f"no footage of {camera!r} between {start} and {end}")
        data = _mux(template, kept)
    finally:
        if template is not None:
            template.close()
    first, last = kept[0], kept[-1]
    clip_start = epoch + timedelta(microseconds=round(first.wall * 1_000_000))
    clip_end = clip_start + timedelta(
        microseconds=round((last.wall + last.duration - first.wall) * 1_000_000)
    )
    stop: Gap | None = None
    if gap is not None:
        resume = None if gap[1] is None else epoch + timedelta(microseconds=round(gap[1] * 1e6))
        stop = Gap(clip_end, resume, gap[2])
    elif clip_end < end - max_gap:
        stop = Gap(clip_end, None, "end-of-footage")
    return Clip(
        data=data,
        content_type="video/mp4",
        camera=camera,
        start=clip_start,
        end=clip_end,
        frames=len(kept),
        segments=tuple(dict.fromkeys(frame.segment for frame in kept)),
        gap=stop,
    )
