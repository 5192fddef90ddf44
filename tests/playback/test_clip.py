"""build_clip over real encrypted segments, checked with ffprobe and against the source."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import av
import pytest

from nvr.playback import NoFootage, build_clip
from nvr.storage.segments import SegmentRecord
from tests.playback.conftest import CAMERA, FPS, T0, Kit, fragmented_piece, write_segments

EVERY_3S = [0, 30, 60, 90, 120, 150, 180, 210, 240]


def at(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def probe(data: bytes, tmp_path: Path) -> tuple[int, list[dict[str, str]]]:
    """(video streams, packets) as ffprobe sees a copy written by the test."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,nb_read_frames:packet=pts,dts,flags", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    info = json.loads(result.stdout)
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    assert len(info["streams"]) == len(video) == 1
    packets = info["packets"]
    assert int(video[0]["nb_read_frames"]) == len(packets)  # every frame decodes
    return len(video), packets


def frames_of(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        return [bytes(p) for p in container.demux(stream) if p.dts is not None]


def check_timeline(packets: list[dict[str, str]]) -> None:
    pts = [int(p["pts"]) for p in packets]
    dts = [int(p["dts"]) for p in packets]
    assert packets[0]["flags"].startswith("K")
    assert pts == sorted(set(pts)), "timestamps must rise without duplicates"
    assert dts == sorted(set(dts))
    steps = {b - a for a, b in itertools.pairwise(pts)}
    assert len(steps) == 1, f"frames must be evenly spaced, got steps {steps}"


@pytest.mark.parametrize(
    ("start", "end", "first_frame", "stop_frame", "segments"),
    [
        (2.5, 8.5, 20, 85, 3),  # two boundaries (3 s, 6 s)
        (1.5, 10.2, 10, 102, 4),  # three boundaries (3, 6, 9 s)
        (3.0, 6.0, 30, 60, 1),  # exactly one segment, starting on its keyframe
    ],
)
@pytest.mark.parametrize("overlap", [False, True])
def test_clip_across_boundaries(
    kit: Kit,
    tmp_path: Path,
    start: float,
    end: float,
    first_frame: int,
    stop_frame: int,
    segments: int,
    overlap: bool,
) -> None:
    records = write_segments_every_3s(kit, overlap=overlap)
    clip = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(start), T0 + at(end))
    _streams, packets = probe(clip.data, tmp_path)
    # The clip starts at the last keyframe at or before start, and ends before end.
    assert len(packets) == stop_frame - first_frame
    check_timeline(packets)
    assert frames_of(clip.data) == kit.source.packets[first_frame:stop_frame]
    assert clip.frames == stop_frame - first_frame
    assert clip.start == T0 + at(first_frame / FPS)
    assert clip.end == T0 + at(stop_frame / FPS)
    assert clip.duration == pytest.approx((stop_frame - first_frame) / FPS)
    assert len(clip.segments) == segments
    assert set(clip.segments) <= {r.id for r in records}
    assert clip.gap is None
    assert clip.content_type == "video/mp4"
    assert clip.data[4:8] == b"ftyp"
    ftyp_size = int.from_bytes(clip.data[:4], "big")
    assert clip.data[ftyp_size + 4 : ftyp_size + 8] == b"moov"  # index first


def write_segments_every_3s(kit: Kit, *, overlap: bool = False) -> list[SegmentRecord]:
    return write_segments(kit, EVERY_3S, overlap=overlap)


def test_gap_is_not_bridged(kit: Kit, tmp_path: Path) -> None:
    write_segments(kit, EVERY_3S[:5], holes={2: 5.0})  # camera offline 5 s before 6 s
    clip = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(3.5), T0 + at(14.0))
    _, packets = probe(clip.data, tmp_path)
    assert len(packets) == 30  # frames 3.0 .. 5.9: the clip stops at the gap
    assert clip.end == T0 + at(6.0)
    assert clip.gap is not None
    assert clip.gap.reason == "gap"
    assert clip.gap.start == T0 + at(6.0)
    assert clip.gap.end == T0 + at(11.0)
    # Asking from inside the gap starts where footage resumes.
    later = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(8.0), T0 + at(13.0))
    assert later.start == T0 + at(11.0)
    assert frames_of(later.data) == kit.source.packets[60:80]
    assert later.gap is None
    # Footage that ends before the requested end says so.
    tail = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(15.5), T0 + at(25.0))
    assert frames_of(tail.data) == kit.source.packets[100:120]  # index time 15.0 .. 16.9
    assert tail.gap is not None
    assert tail.gap.reason == "end-of-footage"
    assert tail.gap.start == T0 + at(17.0)
    assert tail.gap.end is None


def test_no_footage(kit: Kit) -> None:
    write_segments(kit, EVERY_3S[:3])
    with pytest.raises(NoFootage):
        build_clip(kit.store, [kit.identity], CAMERA, T0 + at(60), T0 + at(70))
    with pytest.raises(NoFootage):
        build_clip(kit.store, [kit.identity], "back", T0, T0 + at(5))
    with pytest.raises(ValueError, match="before"):
        build_clip(kit.store, [kit.identity], CAMERA, T0 + at(5), T0)


def test_torn_segment_stops_at_the_tear(kit: Kit, tmp_path: Path) -> None:
    """A segment cut mid-fragment (what salvage leaves after a power cut) gives its whole
    frames; the missing rest is a gap, not bridged."""
    piece = fragmented_piece(kit.source, 0, 29)
    segment = kit.store.open_segment(CAMERA, T0)
    segment.write(piece[: len(piece) * 6 // 10])
    segment.close(T0 + at(3.0))
    write_segments(kit, [30, 60])  # the next segment, at its true time
    clip = build_clip(kit.store, [kit.identity], CAMERA, T0, T0 + at(6.0))
    _, packets = probe(clip.data, tmp_path)
    kept = len(packets)
    assert 0 < kept < 30
    check_timeline(packets)
    assert frames_of(clip.data) == kit.source.packets[:kept]
    assert clip.gap is not None
    assert clip.gap.reason == "gap"
    assert clip.gap.end == T0 + at(3.0)
