"""write_clip: the clip written through a seekable scratch file, in two passes, is the
same MP4 as build_clip's in-memory one (same boxes, same packets, same audio)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nvr.playback import build_clip
from nvr.playback.clip import write_clip
from nvr.sharing.scratch import SealedFile
from tests.playback.conftest import (
    CAMERA,
    T0,
    AudioSource,
    Kit,
    fragmented_piece,
    write_segments,
)

EVERY_3S = [0, 30, 60, 90, 120, 150, 180, 210, 240]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def same_clip(kit: Kit, start: datetime, end: datetime, folder: Path) -> None:
    expected = build_clip(kit.store, [kit.identity], CAMERA, start, end)
    out = io.BytesIO()
    info = write_clip(
        kit.store,
        [kit.identity],
        CAMERA,
        start,
        end,
        out,
        scratch=lambda: SealedFile.create(folder),
    )
    assert out.getvalue() == expected.data
    assert info.data == b""
    assert (info.start, info.end, info.frames, info.segments, info.gap, info.audio) == (
        expected.start,
        expected.end,
        expected.frames,
        expected.segments,
        expected.gap,
        expected.audio,
    )
    assert list(folder.iterdir()) == []  # the scratch file is gone


@pytest.mark.parametrize(("start", "end"), [(2.5, 8.5), (1.5, 10.2), (3.0, 6.0)])
@pytest.mark.parametrize("overlap", [False, True])
def test_same_as_build_clip(
    kit: Kit, tmp_path: Path, start: float, end: float, overlap: bool
) -> None:
    write_segments(kit, EVERY_3S, overlap=overlap)
    same_clip(kit, at(start), at(end), tmp_path / "scratch")


def test_same_with_a_gap_and_a_tear(kit: Kit, tmp_path: Path) -> None:
    piece = fragmented_piece(kit.source, 0, 29)
    segment = kit.store.open_segment(CAMERA, T0)
    segment.write(piece[: len(piece) * 6 // 10])
    segment.close(at(3.0))
    write_segments(kit, [30, 60])
    same_clip(kit, T0, at(6.0), tmp_path / "scratch")
    same_clip(kit, at(3.5), at(9.0), tmp_path / "scratch")


@pytest.mark.parametrize("holes", [None, {1: 0.2, 3: 0.05}])
def test_same_with_audio(
    kit: Kit,
    tmp_path: Path,
    audio_source: Callable[[int], AudioSource],
    holes: dict[int, float] | None,
) -> None:
    write_segments(kit, EVERY_3S, overlap=True, holes=holes, audio=audio_source(16000))
    same_clip(kit, at(1.5), at(10.2), tmp_path / "scratch")
