"""Redaction of a clip before it is released: faces blurred, privacy masks filled, release
text burned in, audio left out unless chosen (docs/design/redaction.md).

``redact(mp4_bytes, RedactionPlan(...), start=..., progress=..., cancel=...)`` returns a
``Redacted`` (H.264 MP4 bytes, faststart, and a ``RedactionReport``); ``preview`` is the
same at a smaller size. ``nvr.redact.faces`` holds the detector and the tracker.
"""

from nvr.redact.engine import (
    Cancelled,
    Redacted,
    RedactionError,
    RedactionPlan,
    RedactionReport,
    preview,
    redact,
)
from nvr.redact.faces import FaceDetector

__all__ = [
    "Cancelled",
    "FaceDetector",
    "Redacted",
    "RedactionError",
    "RedactionPlan",
    "RedactionReport",
    "preview",
    "redact",
]
