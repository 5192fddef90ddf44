"""Where footage files live under the data directory, as pure functions of their identity.

``segments/<camera>/<YYYY-MM-DD>/<camera>-<seq>-<YYYYMMDDTHHMMSSZ>.age`` (``.partial``
while written). The name repeats what the index knows anyway (camera, sequence, start in
UTC), so a data directory can be re-indexed from its files alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

SEGMENTS = "segments"
QUARANTINE = "quarantine"
SUFFIX = ".age"
PARTIAL = ".partial"

_NAME = re.compile(
    r"^(?P<camera>[a-z0-9][a-z0-9_-]{0,63})-(?P<seq>\d{8,})-(?P<start>\d{8}T\d{6}Z)\.age(?P<partial>\.partial)?$"
)


@dataclass(frozen=True)
class SegmentName:
    camera: str
    seq: int
    start: datetime
    partial: bool


def segment_path(camera: str, seq: int, start: datetime, *, partial: bool = False) -> PurePosixPath:
    """Relative path of a segment file (``partial`` for the name while it is written)."""
    start = start.astimezone(UTC)
    name = f"{camera}-{seq:08d}-{start:%Y%m%dT%H%M%SZ}{SUFFIX}{PARTIAL if partial else ''}"
    return PurePosixPath(SEGMENTS, camera, f"{start:%Y-%m-%d}", name)


def parse_segment_name(name: str) -> SegmentName | None:
    """The identity in a segment file name, or ``None`` if it is not one of ours."""
    m = _NAME.match(name)
    if m is None:
        return None
    start = datetime.strptime(m["start"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return SegmentName(m["camera"], int(m["seq"]), start, m["partial"] is not None)
