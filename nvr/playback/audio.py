"""The audio half of a clip: where each recorded audio frame sits, and whether to copy any.

Pure functions over values (no I/O); ``clip.build_clip`` calls them (docs/design/playback.md):

- ``place(packets, time_base, frame_ticks, zero, segment)``: a segment's audio packets as
  ``Sample``s on the clip's timeline (seconds), ``zero`` being where the segment's pts 0
  lies. FFmpeg's fragmented-MP4 muxer (``empty_moov``) cannot delay a track whose first
  packet comes after 0, so the recorder's segments carry their first audio frame at pts 0
  with its duration stretched by the delay; ``place`` moves that frame back to where it
  belongs (the stretch beyond one frame is the delay), so audio stays in sync with video.
- ``join(kept, incoming)``: appends the next segment's samples, first dropping kept ones
  that start at or after its first sample less half a frame (the same frame twice).
- ``trim(samples, start, end)``: the samples that start within the video's
  ``[start, end)`` and end no later than half a frame after it. They may come from the
  segment before the clip's first: audio that arrived just before the keyframe that cut
  the segment is recorded in the earlier one.
- ``decide(wanted, signatures) -> (copy, reason)``: the policy. Audio is copied only if
  asked for and every segment in the clip has an audio track of one format; otherwise the
  clip is video only, and ``reason`` says why ("not requested", "not in every segment",
  "format changes"), or is ``None`` when the footage has no audio at all.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

NOT_REQUESTED = "not requested"
NOT_EVERYWHERE = "not in every segment"
FORMAT_CHANGES = "format changes"
NONE_IN_RANGE = "none in range"


@dataclass
class Sample:
    """One audio frame on the clip's timeline (seconds since the first segment's start)."""

    packet: av.Packet[Any]
    wall: Fraction
    duration: Fraction
    segment: int


def place(
    packets: Sequence[av.Packet[Any]],
    time_base: Fraction,
    frame_ticks: Fraction | None,
    zero: Fraction,
    segment: int,
) -> list[Sample]:
    """``packets`` (one segment's audio, in order, with pts) as samples; see the docstring.
    ``frame_ticks``: one frame's length in ``time_base`` ticks, when the codec states it."""
    samples: list[Sample] = []
    for packet in packets:
        assert packet.pts is not None
        ticks = Fraction(packet.pts)
        length = Fraction(packet.duration or 0)
        samples.append(Sample(packet, zero + ticks * time_base, length * time_base, segment))
    if not samples:
        return samples
    nominal = frame_ticks * time_base if frame_ticks else None
    if nominal is None and len(samples) > 1:
        nominal = samples[1].duration
    first = samples[0]
    if nominal and first.duration > nominal:  # the muxer's stretched first frame
        first.wall += first.duration - nominal
        first.duration = nominal
    for sample in samples:
        if not sample.duration and nominal:
            sample.duration = nominal
    return samples


def join(kept: list[Sample], incoming: Sequence[Sample]) -> None:
    """Append ``incoming`` to ``kept`` without playing any frame twice."""
    if incoming:
        head = incoming[0]
        while kept and kept[-1].wall >= head.wall - head.duration / 2:
            kept.pop()
    kept.extend(incoming)


def trim(samples: Sequence[Sample], start: Fraction, end: Fraction) -> list[Sample]:
    """The samples heard with the video frames from ``start`` to ``end``."""
    return [s for s in samples if s.wall >= start and s.wall + s.duration / 2 <= end]


def decide(wanted: bool, signatures: Sequence[Hashable | None]) -> tuple[bool, str | None]:
    """(copy the audio?, why not) for the audio ``signatures`` of the clip's segments
    (``None``: no audio track); see the module docstring."""
    present = [s for s in signatures if s is not None]
    if not present:
        return False, None
    if not wanted:
        return False, NOT_REQUESTED
    if len(present) < len(signatures):
        return False, NOT_EVERYWHERE
    if len(set(present)) > 1:
        return False, FORMAT_CHANGES
    return True, None
