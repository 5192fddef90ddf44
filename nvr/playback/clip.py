"""The playback primitive: camera + time range -> one MP4, stream-copied from segments.

``build_clip(store, identities, camera, start, end, audio=True) -> Clip`` decrypts the
segments that overlap ``[start, end)`` in memory, demuxes each with PyAV and copies the
video packets (no decode, no encode) from the last keyframe at or before ``start`` up to
``end`` into one regular MP4 with ``moov`` first, built in memory so its size is known for
range requests; with the recorded audio track alongside when every segment in the clip
has one of the same format and ``audio`` is true (``Clip.audio``, ``Clip.audio_omitted``).

Time: a frame's wall-clock time is its segment's ``start`` (the first frame's time, from
the index) plus its pts relative to the segment's first packet. Across a boundary, frames
of the earlier segment at or after the next segment's first frame (less half a frame) are
dropped (segments may overlap by a frame; the later keyframe wins, so the P-frames after
it still decode), and the next segment is placed right after the last kept frame, so
timestamps are continuous. A hole longer than ``max_gap`` (camera offline), or a change of
codec parameters, is not bridged: the clip stops there and ``Clip.gap`` says where footage
resumes (docs/design/playback.md). Audio frames move with their segment's video (so
sync is what the recorder wrote), are cut to the video's span, and a frame present in two
segments is played once (``nvr.playback.audio``).

``write_clip(..., out, scratch=...)`` makes the same MP4 (byte for byte) without holding
it: a first pass keeps only each frame's timing, a second decrypts the segments again and
copies the packets into a muxer writing to ``scratch()`` (a seekable file the caller makes:
exports use a sealed ``nvr.sharing.scratch.SealedFile``), and ``faststart_stream`` copies
that to ``out`` with the moov first; memory holds the frame index, not the clip.

Errors: ``NoFootage`` when nothing playable lies in the range. Synchronous and CPU-bound:
call it from a worker thread. Nothing decrypted is written to disk (``write_clip``: only
to the files its caller gives it).
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, BinaryIO

import av
from av.container import InputContainer

from nvr.crypto import Identity
from nvr.errors import UserError
from nvr.playback import audio as sound
from nvr.playback.audio import Sample
from nvr.playback.faststart import faststart, faststart_stream
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
    audio: str | None = None  # codec of the clip's audio track ("aac"); None: video only
    audio_omitted: str | None = None  # why the footage's audio is not in the clip

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass
class _Frame:
    packet: av.Packet[Any] | None  # None when planning a clip written to a file
    index: int  # its place among the segment's kept video packets (to find it again)
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


def _audio_signature(container: InputContainer) -> tuple[object, ...] | None:
    if not container.streams.audio:
        return None
    ctx = container.streams.audio[0].codec_context
    return (ctx.name, ctx.sample_rate, ctx.channels, bytes(ctx.extradata or b""))


def _walk(
    container: InputContainer, record: SegmentRecord, track: Any | None
) -> Iterator[av.Packet[Any]]:
    """The segment's usable packets (video, and ``track``'s) in file order, stopping
    before a torn packet or where a salvaged segment ends."""
    stream = container.streams.video[0]
    try:
        for packet in container.demux(*(s for s in (stream, track) if s is not None)):
            if packet.is_corrupt:  # torn by a crash (salvaged segment): stop before it
                log.warning("segment %s: torn packet at pts %s, stopping", record.id, packet.pts)
                return
            if packet.pts is None or packet.dts is None or packet.size == 0:
                continue
            yield packet
    except av.error.FFmpegError as exc:
        # A salvaged (truncated) segment may end inside a fragment: keep what came before.
        log.warning("segment %s: demux stopped early: %s", record.id, exc)


def _video(container: InputContainer, record: SegmentRecord) -> Iterator[av.Packet[Any]]:
    """The segment's video packets from its first keyframe on (``_Frame.index`` counts
    these)."""
    started = False
    for packet in _walk(container, record, None):
        started = started or packet.is_keyframe
        if started:
            yield packet


def _demux(
    container: InputContainer, record: SegmentRecord, offset: Fraction, audio: bool, keep: bool
) -> tuple[list[_Frame], list[Sample]]:
    """The segment's video frames in decode order, from its first keyframe on, and (if
    ``audio`` and it has an audio track) its audio frames. ``keep``: the frames hold their
    packets (else only their timing: the packets are fetched again when muxing)."""
    stream = container.streams.video[0]
    tb = stream.time_base
    if tb is None:
        raise av.error.InvalidDataError(0, "video stream without a time base")
    rate = stream.average_rate or stream.guessed_rate
    fallback = Fraction(1) / Fraction(rate) if rate else _DEFAULT_FRAME
    track = container.streams.audio[0] if audio and container.streams.audio else None
    frames: list[_Frame] = []
    heard: list[av.Packet[Any]] = []
    first: int | None = None
    for packet in _walk(container, record, track):
        if track is not None and packet.stream.index == track.index:
            heard.append(packet)
            continue
        assert packet.pts is not None
        assert packet.dts is not None
        if first is None:
            first = packet.pts
        if not frames and not packet.is_keyframe:
            continue  # undecodable without the frames before it
        frames.append(
            _Frame(
                packet if keep else None,
                len(frames),
                offset + (packet.pts - first) * tb,
                offset + (packet.dts - first) * tb,
                packet.duration * tb if packet.duration else Fraction(0),
                packet.is_keyframe,
                record.id,
            )
        )
    for this, after in itertools.pairwise(frames):
        if not this.duration:
            this.duration = after.wall - this.wall if after.wall > this.wall else fallback
    # A fragment's last sample has no successor, so muxers guess its duration (FFmpeg
    # writes a shortened one); the frame before it knows the real interval.
    if len(frames) > 1:
        frames[-1].duration = frames[-2].duration
    elif frames and not frames[-1].duration:
        frames[-1].duration = fallback
    if track is None or track.time_base is None or first is None:
        return frames, []
    ctx = track.codec_context
    frame_ticks = (
        Fraction(ctx.frame_size, ctx.sample_rate) / track.time_base
        if ctx.frame_size and ctx.sample_rate
        else None
    )
    zero = offset - first * tb  # where pts 0 of the segment lies on the clip's timeline
    return frames, sound.place(heard, track.time_base, frame_ticks, zero, record.id)


def _mux(
    video: InputContainer,
    frames: Sequence[_Frame],
    audio: InputContainer | None,
    samples: Sequence[Sample],
) -> bytes:
    out_buffer = io.BytesIO()
    origin = frames[0].wall
    with av.open(out_buffer, "w", format="mp4") as output:
        stream = output.add_stream_from_template(video.streams.video[0])
        tb = video.streams.video[0].time_base
        assert tb is not None
        stream.time_base = tb
        timed: list[tuple[Fraction, av.Packet[Any]]] = []  # (decode time, packet)
        last_dts: int | None = None
        for frame in frames:
            packet = frame.packet
            assert packet is not None
            pts = round((frame.wall - origin) / tb)
            dts = round((frame.dts - origin) / tb)
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1
            packet.pts, packet.dts = max(pts, dts), dts
            packet.duration = max(1, round(frame.duration / tb))
            packet.time_base = tb
            packet.stream = stream
            timed.append((dts * tb, packet))
            last_dts = dts
        if audio is not None and samples:
            track = output.add_stream_from_template(audio.streams.audio[0])
            atb = audio.streams.audio[0].time_base
            assert atb is not None
            track.time_base = atb
            last_dts = None
            for sample in samples:
                packet = sample.packet
                dts = round((sample.wall - origin) / atb)
                if last_dts is not None and dts <= last_dts:
                    dts = last_dts + 1
                packet.pts = packet.dts = dts
                packet.duration = max(1, round(sample.duration / atb))
                packet.time_base = atb
                packet.stream = track
                timed.append((dts * atb, packet))
                last_dts = dts
        timed.sort(key=lambda item: item[0])  # stable: each track keeps its own order
        for _, packet in timed:
            output.mux(packet)
    return faststart(out_buffer.getvalue())


def _mux_file(
    store: SegmentStore,
    identities: Sequence[Identity],
    sink: io.RawIOBase,
    records: dict[int, SegmentRecord],
    video: InputContainer,
    frames: Sequence[_Frame],
    audio: InputContainer | None,
    samples: Sequence[Sample],
) -> None:
    """``_mux`` for frames planned without their packets, into the seekable ``sink``: each
    segment is decrypted again and its packets are copied as they come, so only one
    segment's worth of demuxer state is in memory at a time."""
    origin = frames[0].wall
    with av.open(sink, "w", format="mp4") as output:
        stream = output.add_stream_from_template(video.streams.video[0])
        tb = video.streams.video[0].time_base
        assert tb is not None
        stream.time_base = tb
        track = None
        atb = Fraction(1)
        heard: list[tuple[Fraction, av.Packet[Any]]] = []  # (decode time, packet)
        if audio is not None and samples:
            track = output.add_stream_from_template(audio.streams.audio[0])
            atb_ = audio.streams.audio[0].time_base
            assert atb_ is not None
            atb = Fraction(atb_)
            track.time_base = atb_
            last: int | None = None
            for sample in samples:
                packet = sample.packet
                dts = round((sample.wall - origin) / atb)
                if last is not None and dts <= last:
                    dts = last + 1
                packet.pts = packet.dts = dts
                packet.duration = max(1, round(sample.duration / atb))
                packet.time_base = atb_
                packet.stream = track
                heard.append((dts * atb, packet))
                last = dts
        pending = iter(heard)
        next_audio = next(pending, None)
        last_dts: int | None = None
        by_segment: dict[int, list[_Frame]] = {}
        for frame in frames:
            by_segment.setdefault(frame.segment, []).append(frame)
        for segment, wanted in by_segment.items():
            at = {frame.index: frame for frame in wanted}
            top = wanted[-1].index
            with (
                store.open_plaintext(records[segment], identities) as plain,
                av.open(plain, "r", format="mp4", options=_NO_DECODE) as source,
            ):
                for index, packet in enumerate(_video(source, records[segment])):
                    if index > top:
                        break
                    if index not in at:
                        continue
                    frame = at[index]
                    pts = round((frame.wall - origin) / tb)
                    dts = round((frame.dts - origin) / tb)
                    if last_dts is not None and dts <= last_dts:
                        dts = last_dts + 1
                    packet.pts, packet.dts = max(pts, dts), dts
                    packet.duration = max(1, round(frame.duration / tb))
                    packet.time_base = tb
                    packet.stream = stream
                    last_dts = dts
                    while next_audio is not None and next_audio[0] < dts * tb:
                        output.mux(next_audio[1])
                        next_audio = next(pending, None)
                    output.mux(packet)
        while next_audio is not None:
            output.mux(next_audio[1])
            next_audio = next(pending, None)


def build_clip(
    store: SegmentStore,
    identities: Sequence[Identity],
    camera: str,
    start: datetime,
    end: datetime,
    *,
    audio: bool = True,
    max_gap: timedelta = MAX_GAP,
) -> Clip:
    """One MP4 of ``camera`` over ``[start, end)``; see the module docstring."""

    def emit(
        video: InputContainer,
        kept: list[_Frame],
        track: InputContainer | None,
        samples: list[Sample],
        _: dict[int, SegmentRecord],
    ) -> bytes:
        return _mux(video, kept, track, samples)

    data, info = _assemble(store, identities, camera, start, end, audio, max_gap, True, emit)
    return dataclasses.replace(info, data=data)


def write_clip(
    store: SegmentStore,
    identities: Sequence[Identity],
    camera: str,
    start: datetime,
    end: datetime,
    out: BinaryIO,
    *,
    scratch: Callable[[], io.RawIOBase],
    audio: bool = True,
    max_gap: timedelta = MAX_GAP,
) -> Clip:
    """``build_clip`` written to ``out`` (moov first) instead of returned: the returned
    ``Clip.data`` is empty. Memory is bounded by one segment's packets at a time, not the
    clip: a first pass keeps only each frame's timing, the muxer writes to ``scratch()``
    (a seekable file: the caller makes it a ``nvr.sharing.scratch.SealedFile`` so nothing
    plaintext reaches the disk), and a second pass decrypts the segments again to copy the
    packets; ``faststart_stream`` then copies it to ``out`` with the moov first."""

    def emit(
        video: InputContainer,
        kept: list[_Frame],
        track: InputContainer | None,
        samples: list[Sample],
        records: dict[int, SegmentRecord],
    ) -> bytes:
        with scratch() as muxed:
            _mux_file(store, identities, muxed, records, video, kept, track, samples)
            faststart_stream(muxed, muxed.seek(0, 2), out.write)
        return b""

    _, info = _assemble(store, identities, camera, start, end, audio, max_gap, False, emit)
    return info


def _assemble(
    store: SegmentStore,
    identities: Sequence[Identity],
    camera: str,
    start: datetime,
    end: datetime,
    audio: bool,
    max_gap: timedelta,
    keep: bool,
    emit: Callable[
        [
            InputContainer,
            list[_Frame],
            InputContainer | None,
            list[Sample],
            dict[int, SegmentRecord],
        ],
        bytes,
    ],
) -> tuple[bytes, Clip]:
    if start >= end:
        raise ValueError("start must be before end")
    records = store.find(camera, start, end)
    if not records:
        raise NoFootage(f"no footage of {camera!r} between {start} and {end}")
    epoch = records[0].start
    start_s, end_s, gap_s = _seconds(start - epoch), _seconds(end - epoch), _seconds(max_gap)
    kept: list[_Frame] = []  # frames in the clip, or (before start) the GOP leading to it
    heard: list[Sample] = []  # the audio of the segments kept so far
    started = False
    opened: dict[int, InputContainer] = {}  # the current run of joinable segments
    audio_of: dict[int, tuple[object, ...] | None] = {}  # segment id -> audio signature
    signature: tuple[object, ...] | None = None
    gap: tuple[Fraction, Fraction | None, str] | None = None
    try:
        for record in records:
            with store.open_plaintext(record, identities) as plain:
                container = av.open(plain, "r", format="mp4", options=_NO_DECODE)
                if not container.streams.video:
                    container.close()
                    continue
                offset = _seconds(record.start - epoch)
                frames, samples = _demux(container, record, offset, audio, keep)
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
                    for sample in samples:  # the audio moves with its video: sync kept
                        sample.wall -= hole
            if not kept:
                for old in opened.values():
                    old.close()
                opened, heard, signature = {}, [], _signature(container)
            opened[record.id] = container
            audio_of[record.id] = _audio_signature(container)
            sound.join(heard, samples)
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
        if not started or not kept:
            raise NoFootage(f"no footage of {camera!r} between {start} and {end}")
        first, last = kept[0], kept[-1]
        used = tuple(dict.fromkeys(frame.segment for frame in kept))
        samples = sound.trim(heard, first.wall, last.wall + last.duration)
        # A segment's first instants may be heard in the one before (audio that arrived
        # before the keyframe that cut it): those segments count for the audio too.
        voiced = tuple(dict.fromkeys((*used, *(s.segment for s in samples))))
        copy, omitted = sound.decide(audio, [audio_of[segment] for segment in voiced])
        if not copy:
            samples = []
        elif not samples:
            omitted = sound.NONE_IN_RANGE
        track = opened[voiced[0]] if samples else None
        codec = track.streams.audio[0].codec_context.name if track is not None else None
        data = emit(opened[first.segment], kept, track, samples, {r.id: r for r in records})
    finally:
        for container in opened.values():
            container.close()
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
    return data, Clip(
        data=b"",
        content_type="video/mp4",
        camera=camera,
        start=clip_start,
        end=clip_end,
        frames=len(kept),
        segments=used,
        gap=stop,
        audio=codec,
        audio_omitted=omitted,
    )
