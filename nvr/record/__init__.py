"""Recording: camera packets passed through (no transcoding) into encrypted fMP4 segments.

``Recorder`` runs one camera stream in its own thread (``recorder``); ``SegmentMuxer`` is
the fragmented-MP4 writer (``fmp4``); timestamp repair and wall-clock placement are pure
(``timeline``), as is the events-mode pre-roll (``preroll``); outages become rows of the
``gaps`` table through ``GapLog`` (``gaps``). See docs/design/recording.md.
"""

from nvr.record.gaps import GapLog, GapRow, Outage, gaps
from nvr.record.recorder import Recorder, RecorderState, RecorderStatus, RecordMode

__all__ = [
    "GapLog",
    "GapRow",
    "Outage",
    "RecordMode",
    "Recorder",
    "RecorderState",
    "RecorderStatus",
    "gaps",
]
