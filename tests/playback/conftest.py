"""Playback fixtures: real encrypted segments cut from a synthetic clip.

``segment_source`` remuxes one synthetic H.264 clip (10 fps, a keyframe every second) into
fragmented-MP4 pieces of ``seconds`` cut on keyframes, the way the recorder writes them
(``frag_keyframe+empty_moov+default_base_moof``, timestamps from 0 in each piece, a ``free``
box after every fragment), and ``write_segments`` stores them through a real
``SegmentStore`` with consecutive wall-clock start/end times. ``SourceClip.packets`` is
the ground truth: the bytes of every frame in order.

Audio: ``audio_source(rate)`` is an AAC track (mono, 1024 samples a frame, a different
noise in every frame) as long as the video; a segment given one carries, like the
recorder's, the audio frames that start within its video (pts 0 = its first video frame),
muxed by the same fragmenting muxer. ``AudioSource.packets`` is its ground truth.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from av.audio.codeccontext import AudioCodecContext

from nvr.clock import FakeClock
from nvr.crypto import X25519Identity
from nvr.storage.segments import SegmentRecord, SegmentStore
from tests.storage.conftest import make_store
from tests.support.footage import SyntheticClipFactory

FPS = 10
T0 = datetime(2026, 3, 4, 10, 0, 0, tzinfo=UTC)
CAMERA = "front"


@dataclass
class SourceClip:
    path: Path
    packets: list[bytes]  # every frame's bytes, in order (frame i at i / FPS seconds)
    keyframes: list[int]  # indexes of keyframes


@dataclass
class AudioSource:
    path: Path
    rate: int
    packets: list[bytes]  # every frame's bytes, in order (frame k at k * FRAME / rate s)

    def frame_at(self, seconds: Fraction) -> int:
        """The first frame that starts at or after ``seconds``."""
        return -(-seconds * self.rate // FRAME)


AUDIO_SECONDS = 24
FRAME = 1024  # samples per AAC frame


@dataclass
class Kit:
    store: SegmentStore
    identity: X25519Identity
    clock: FakeClock
    audit: list[tuple[str, dict[str, object]]]
    source: SourceClip


def _with_free_boxes(data: bytes) -> bytes:
    """Insert a 64-byte ``free`` box after every ``mdat`` (the recorder's padding)."""
    out, pos = bytearray(), 0
    while pos < len(data):
        (size,) = struct.unpack_from(">I", data, pos)
        out += data[pos : pos + size]
        if data[pos + 4 : pos + 8] == b"mdat":
            out += struct.pack(">I4s", 64, b"free") + bytes(56)
        pos += size
    return bytes(out)


def fragmented_piece(
    source: SourceClip, first: int, last: int, audio: AudioSource | None = None
) -> bytes:
    """Frames ``first..last`` (inclusive; ``first`` a keyframe) as a fragmented MP4, with
    the audio frames that start within them."""
    buffer = io.BytesIO()
    with contextlib.ExitStack() as stack:
        src = stack.enter_context(av.open(str(source.path)))
        vin = src.streams.video[0]
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
        out = stack.enter_context(av.open(buffer, "w", format="mp4", options=options))
        vout = out.add_stream_from_template(vin)
        timed: list[tuple[Fraction, av.Packet[Any]]] = []
        base: int | None = None
        for index, packet in enumerate(p for p in src.demux(vin) if p.dts is not None):
            if index < first:
                continue
            if index > last:
                break
            assert packet.pts is not None
            assert packet.dts is not None
            if base is None:
                base = packet.pts
            packet.pts -= base
            packet.dts -= base
            packet.duration = 0  # like the recorder: the muxer works durations out
            packet.stream = vout
            timed.append((Fraction(index - first, FPS), packet))
        if audio is not None:
            ain = stack.enter_context(av.open(str(audio.path)))
            aout = out.add_stream_from_template(ain.streams.audio[0])
            aout.time_base = Fraction(1, audio.rate)
            zero = Fraction(first, FPS) * audio.rate  # audio ticks at the first video frame
            lo, hi = audio.frame_at(Fraction(first, FPS)), audio.frame_at(Fraction(last + 1, FPS))
            for k, sound in enumerate(p for p in ain.demux(ain.streams.audio[0]) if p.size):
                if lo <= k < hi:
                    sound.pts = sound.dts = int(k * FRAME - zero)
                    sound.time_base = aout.time_base
                    sound.duration = FRAME
                    sound.stream = aout
                    timed.append((Fraction(k * FRAME, audio.rate) - Fraction(first, FPS), sound))
        for _, packet in sorted(timed, key=lambda item: item[0]):
            out.mux(packet)
    return _with_free_boxes(buffer.getvalue())


def write_segments(
    kit: Kit,
    bounds: Sequence[int],
    *,
    overlap: bool = False,
    holes: dict[int, float] | None = None,
    camera: str = CAMERA,
    audio: Sequence[AudioSource | None] | AudioSource | None = None,
) -> list[SegmentRecord]:
    """Segments from frame ``bounds[i]`` to ``bounds[i + 1]`` (keyframes). ``overlap``:
    each segment also carries the next one's first frame; ``holes[i]``: seconds of
    recording missing before segment ``i`` (its index times move later); ``audio``: the
    audio of every segment, or of each (``None``: video only)."""
    tracks = audio if isinstance(audio, Sequence) else [audio] * (len(bounds) - 1)
    records = []
    shift = 0.0
    for i, (first, stop) in enumerate(itertools.pairwise(bounds)):
        shift += (holes or {}).get(i, 0.0)
        last = stop if overlap and stop < len(kit.source.packets) else stop - 1
        start = T0 + timedelta(seconds=first / FPS + shift)
        end = T0 + timedelta(seconds=(last + 1) / FPS + shift)
        segment = kit.store.open_segment(camera, start)
        segment.write(fragmented_piece(kit.source, first, last, tracks[i]))
        records.append(segment.close(end))
    return records


@pytest.fixture(scope="session")
def segment_source(synthetic_clip_factory: SyntheticClipFactory) -> SourceClip:
    clip = synthetic_clip_factory("visitor", 24.0, width=320, height=180, fps=FPS, gop_seconds=1.0)
    packets, keyframes = [], []
    with av.open(str(clip.path)) as src:
        stream = src.streams.video[0]
        assert stream.time_base is not None
        for index, packet in enumerate(p for p in src.demux(stream) if p.dts is not None):
            assert packet.pts is not None
            assert packet.pts * stream.time_base == Fraction(index, FPS)
            packets.append(bytes(packet))
            if packet.is_keyframe:
                keyframes.append(index)
    return SourceClip(clip.path, packets, keyframes)


def _encode_audio(path: Path, rate: int) -> list[bytes]:
    """``AUDIO_SECONDS`` of seeded noise, AAC-encoded and stored in ``path`` (an M4A whose
    frame ``k`` is at ``k * FRAME`` ticks); the frames' bytes, in order."""
    noise = np.random.default_rng(rate).uniform(-0.5, 0.5, AUDIO_SECONDS * rate + FRAME)
    encoder = av.CodecContext.create("aac", "w")
    assert isinstance(encoder, AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = rate, "mono", "fltp"
    encoder.time_base = Fraction(1, rate)
    encoder.open()
    packets: list[bytes] = []
    for k in range(len(noise) // FRAME):
        frame = av.AudioFrame.from_ndarray(
            noise[k * FRAME : (k + 1) * FRAME].astype(np.float32)[None, :], "fltp", "mono"
        )
        frame.sample_rate, frame.pts = rate, k * FRAME
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    packets = packets[: AUDIO_SECONDS * rate // FRAME]
    assert len(set(packets)) == len(packets), "every frame must be told apart"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate)
        assert isinstance(stream.codec_context, AudioCodecContext)
        stream.codec_context.layout = "mono"
        stream.codec_context.extradata = encoder.extradata
        stream.time_base = Fraction(1, rate)
        for k, data in enumerate(packets):
            packet = av.Packet(data)
            packet.pts = packet.dts = k * FRAME
            packet.duration = FRAME
            packet.time_base = stream.time_base
            packet.stream = stream
            out.mux(packet)
    return packets


@pytest.fixture(scope="session")
def audio_source(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], AudioSource]:
    """``audio_source(rate)``: the AAC track at ``rate`` Hz (encoded once per rate)."""
    root = tmp_path_factory.mktemp("audio")
    made: dict[int, AudioSource] = {}

    def make(rate: int = 16000) -> AudioSource:
        if rate not in made:
            path = root / f"noise-{rate}.m4a"
            made[rate] = AudioSource(path, rate, _encode_audio(path, rate))
        return made[rate]

    return make


@pytest.fixture
def kit(tmp_path: Path, segment_source: SourceClip) -> Iterator[Kit]:
    identity = X25519Identity.generate()
    clock = FakeClock()
    audit: list[tuple[str, dict[str, object]]] = []
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    store, _, sessions = make_store(data_dir, identity, clock, audit)
    yield Kit(store, identity, clock, audit, segment_source)
    sessions.kw["bind"].dispose()
