"""The audio timeline and policy of a clip (``nvr.playback.audio``): pure, no footage."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import pytest

from nvr.playback import audio as sound
from nvr.playback.audio import Sample

TB = Fraction(1, 16000)
FRAME = Fraction(1024, 16000)


def packets(*pts_and_durations: tuple[int, int]) -> list[av.Packet[Any]]:
    made = []
    for pts, duration in pts_and_durations:
        packet = av.Packet(bytes([pts % 251]))
        packet.pts, packet.dts, packet.duration = pts, pts, duration
        made.append(packet)
    return made


def samples(segment: int, *starts: Fraction) -> list[Sample]:
    return [Sample(av.Packet(b"x"), start, FRAME, segment) for start in starts]


def test_place_puts_a_segment_on_the_clip_timeline() -> None:
    placed = sound.place(packets((0, 1024), (1024, 1024)), TB, Fraction(1024), Fraction(3), 7)
    assert [(s.wall, s.duration, s.segment) for s in placed] == [
        (Fraction(3), FRAME, 7),
        (3 + FRAME, FRAME, 7),
    ]


@pytest.mark.parametrize("frame_ticks", [Fraction(1024), None])  # stated, or learnt
def test_place_undoes_the_muxers_stretched_first_frame(frame_ticks: Fraction | None) -> None:
    """The fragmenting muxer writes a track's first frame at 0, its duration stretched by
    how late it really came (here 1427 ticks): it goes back to 1427."""
    stretched = packets((0, 2451), (2451, 1024), (3475, 1024))
    placed = sound.place(stretched, TB, frame_ticks, Fraction(0), 1)
    assert [s.wall for s in placed] == [Fraction(1427) * TB, 2451 * TB, 3475 * TB]
    assert {s.duration for s in placed} == {FRAME}


def test_place_fills_in_missing_durations() -> None:
    placed = sound.place(packets((0, 0), (1024, 0)), TB, Fraction(1024), Fraction(0), 1)
    assert [s.duration for s in placed] == [FRAME, FRAME]
    assert sound.place([], TB, None, Fraction(0), 1) == []


def test_join_plays_a_frame_present_in_two_segments_once() -> None:
    kept = samples(1, *(k * FRAME for k in range(5)))
    later = samples(2, *(k * FRAME for k in range(3, 8)))  # frames 3 and 4 again
    sound.join(kept, later)
    assert [s.wall for s in kept] == [k * FRAME for k in range(8)]
    assert [s.segment for s in kept] == [1, 1, 1, 2, 2, 2, 2, 2]


def test_join_keeps_frames_that_only_nearly_touch() -> None:
    """After a video snap of a few ms the next segment's audio may start a little early
    or late: less than half a frame of overlap is not a duplicate."""
    kept = samples(1, Fraction(0), FRAME)
    later = samples(2, 2 * FRAME - FRAME / 3, 3 * FRAME - FRAME / 3)
    sound.join(kept, later)
    assert len(kept) == 4
    sound.join(kept, [])
    assert len(kept) == 4


def test_trim_to_the_video_span() -> None:
    heard = samples(1, *(k * FRAME for k in range(10))) + samples(2, 10 * FRAME)
    kept = sound.trim(heard, start=FRAME / 2, end=5 * FRAME + FRAME / 2)
    # Frame 0 starts before the video (it would need a negative time); frame 5 ends half
    # a frame after the video, which is as far as it may.
    assert [s.wall for s in kept] == [k * FRAME for k in range(1, 6)]
    assert sound.trim(heard, 10 * FRAME, 20 * FRAME) == heard[-1:]


AAC = ("aac", 16000, 1, b"\x14\x08")
AAC_8K = ("aac", 8000, 1, b"\x15\x88")


@pytest.mark.parametrize(
    ("wanted", "signatures", "expected"),
    [
        (True, [AAC, AAC], (True, None)),
        (False, [AAC, AAC], (False, sound.NOT_REQUESTED)),
        (True, [None, None], (False, None)),  # nothing recorded (off, or G.711)
        (False, [None], (False, None)),
        (True, [AAC, None, AAC], (False, sound.NOT_EVERYWHERE)),
        (True, [None, AAC], (False, sound.NOT_EVERYWHERE)),
        (True, [AAC, AAC_8K], (False, sound.FORMAT_CHANGES)),
        (False, [AAC, None], (False, sound.NOT_REQUESTED)),
    ],
)
def test_decide(
    wanted: bool, signatures: list[tuple[object, ...] | None], expected: tuple[bool, str | None]
) -> None:
    assert sound.decide(wanted, signatures) == expected
