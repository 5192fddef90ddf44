"""Camera ingest: one PyAV demuxer per stream, in a worker thread, reconnecting with backoff.

``StreamReader`` is the entry point; ``StreamHealth`` its health snapshot; ``Subscription``
a consumer's bounded packet queue. Decisions (backoff, error meaning, FFmpeg options) are
pure functions in ``policy``. See docs/design/demo-and-ingest.md.
"""

from nvr.capture.fanout import (
    AudioInfo,
    CapturedPacket,
    StreamInfo,
    Subscription,
    SubscriptionClosed,
)
from nvr.capture.health import StreamHealth
from nvr.capture.policy import StreamState, Transport, next_backoff
from nvr.capture.reader import StreamReader

__all__ = [
    "AudioInfo",
    "CapturedPacket",
    "StreamHealth",
    "StreamInfo",
    "StreamReader",
    "StreamState",
    "Subscription",
    "SubscriptionClosed",
    "Transport",
    "next_backoff",
]
