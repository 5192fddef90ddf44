"""Live view: WebRTC (WHEP) sessions passing each camera's H.264 through, and snapshots.

``LiveService`` (``service``) is the entry point the service runner builds and the web
layer (``nvr.web.live``) calls; ``CameraFeed`` (``feed``) fans one camera's packets out to
its viewers; ``PassthroughTrack`` (``track``) hands them to aiortc; ``h264`` makes them
Annex B with parameter sets; ``snapshot`` decodes the latest picture to JPEG.
See docs/design/live.md.
"""

from nvr.live.service import (
    MAX_VIEWERS,
    CameraOffline,
    LiveError,
    LiveService,
    LiveSession,
    OfferRejected,
    TooManyViewers,
    UnknownCamera,
)
from nvr.live.snapshot import Snapshot

__all__ = [
    "MAX_VIEWERS",
    "CameraOffline",
    "LiveError",
    "LiveService",
    "LiveSession",
    "OfferRejected",
    "Snapshot",
    "TooManyViewers",
    "UnknownCamera",
]
