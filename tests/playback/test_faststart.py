"""faststart: moov moved before mdat, chunk offsets still pointing at the same bytes."""

from __future__ import annotations

import io
import struct

import av
import pytest

from nvr.playback.faststart import Mp4Error, faststart
from tests.playback.conftest import SourceClip


def boxes(data: bytes) -> list[bytes]:
    kinds, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        kinds.append(kind)
        pos += size
    return kinds


def test_moves_moov_and_keeps_every_sample(segment_source: SourceClip) -> None:
    plain = segment_source.path.read_bytes()
    assert boxes(plain).index(b"moov") > boxes(plain).index(b"mdat")
    moved = faststart(plain)
    assert len(moved) == len(plain)
    assert boxes(moved)[:2] == [b"ftyp", b"moov"]
    with av.open(io.BytesIO(moved), "r") as container:
        stream = container.streams.video[0]
        samples = [bytes(p) for p in container.demux(stream) if p.dts is not None]
    assert samples == segment_source.packets
    assert faststart(moved) is moved  # already fast: unchanged


@pytest.mark.parametrize(
    "data",
    [b"", struct.pack(">I4s", 8, b"ftyp"), struct.pack(">I4s", 50, b"mdat") + b"x", b"\0\0"],
)
def test_rejects_what_is_not_a_whole_mp4(data: bytes) -> None:
    with pytest.raises(Mp4Error):
        faststart(data)
