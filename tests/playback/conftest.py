"""Playback fixtures: real encrypted segments cut from a synthetic clip.

``segment_source`` remuxes one synthetic H.264 clip (10 fps, a keyframe every second) into
fragmented-MP4 pieces of ``seconds`` cut on keyframes, the way the recorder writes them
(``frag_keyframe+empty_moov+default_base_moof``, timestamps from 0 in each piece, a ``free``
box after every fragment), and ``write_segments`` stores them through a real
``SegmentStore`` with consecutive wall-clock start/end times. ``SourceClip.packets`` is
the ground truth: the bytes of every frame in order.
"""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import pytest

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


def fragmented_piece(source: SourceClip, first: int, last: int) -> bytes:
    """Frames ``first..last`` (inclusive; ``first`` a keyframe) as a fragmented MP4."""
    buffer = io.BytesIO()
    with av.open(str(source.path)) as src:
        vin = src.streams.video[0]
        options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
        with av.open(buffer, "w", format="mp4", options=options) as out:
            vout = out.add_stream_from_template(vin)
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
                out.mux(packet)
    return _with_free_boxes(buffer.getvalue())


def write_segments(
    kit: Kit,
    bounds: Sequence[int],
    *,
    overlap: bool = False,
    holes: dict[int, float] | None = None,
    camera: str = CAMERA,
) -> list[SegmentRecord]:
    """Segments from frame ``bounds[i]`` to ``bounds[i + 1]`` (keyframes). ``overlap``:
    each segment also carries the next one's first frame; ``holes[i]``: seconds of
    recording missing before segment ``i`` (its index times move later)."""
    records = []
    shift = 0.0
    for i, (first, stop) in enumerate(itertools.pairwise(bounds)):
        shift += (holes or {}).get(i, 0.0)
        last = stop if overlap and stop < len(kit.source.packets) else stop - 1
        start = T0 + timedelta(seconds=first / FPS + shift)
        end = T0 + timedelta(seconds=(last + 1) / FPS + shift)
        segment = kit.store.open_segment(camera, start)
        segment.write(fragmented_piece(kit.source, first, last))
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
