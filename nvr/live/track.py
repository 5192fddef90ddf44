"""A sendonly video track that hands aiortc the camera's own H.264, never a decoded frame.

aiortc's ``RTCRtpSender`` asks the track for the next item; given an ``av.Packet`` (not a
``VideoFrame``) its H.264 codec only *packs* it (splits the Annex B access unit into NAL
units and packetizes them, FU-A/STAP-A), with the RTP timestamp taken from the packet's
``pts`` in its ``time_base``. So this track gives Annex B packets stamped on the 90 kHz
RTP clock.

Timestamps: the first time the sender asks, everything already queued (the primed GOP and
what arrived while ICE and DTLS connected) is the *backlog*: it goes out at once, each
frame one tick (1/90000 s) after the previous, so the browser decodes its way to the
present picture immediately instead of playing the last seconds late. From then on frame
spacing follows the camera's own presentation times. A reconnect of the camera (new
reader session) or a timestamp going backwards re-anchors the clock one frame later, so the
RTP timestamps the viewer sees only ever increase.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from nvr.live.feed import LiveFrame, Viewer, ViewerClosed

RTP_CLOCK = 90_000
TIME_BASE = Fraction(1, RTP_CLOCK)
RESYNC_STEP = RTP_CLOCK // 30  # one frame at 30 fps, after a discontinuity


class RtpClock:
    """90 kHz timestamps for a viewer's frames (see the module docstring); pure."""

    def __init__(self) -> None:
        self.last: int | None = None
        self._anchor: tuple[int, float, int] | None = None  # (session, seconds, timestamp)

    def backlog(self, frame: LiveFrame) -> int:
        """A frame of the backlog: one tick after the previous one."""
        ts = 0 if self.last is None else self.last + 1
        return self._set(frame, ts)

    def live(self, frame: LiveFrame) -> int:
        """A frame in real time: spaced like the camera spaced it."""
        if self._anchor is None or self.last is None:
            return self._set(frame, 0 if self.last is None else self.last + RESYNC_STEP)
        session, seconds, base = self._anchor
        ts = base + round((frame.seconds - seconds) * RTP_CLOCK)
        if session != frame.info.session or ts <= self.last:
            ts = self.last + RESYNC_STEP
        return self._set(frame, ts)

    def _set(self, frame: LiveFrame, ts: int) -> int:
        self._anchor = (frame.info.session, frame.seconds, ts)
        self.last = ts
        return ts


class PassthroughTrack(MediaStreamTrack):
    """``recv()`` returns the viewer's next frame as an ``av.Packet``; see the module doc."""

    kind = "video"

    def __init__(self, viewer: Viewer) -> None:
        super().__init__()
        self.viewer = viewer
        self.clock = RtpClock()
        self.sent = 0
        self._backlog: int | None = None  # frames still to send as backlog

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if self._backlog is None:
            self._backlog = self.viewer.qsize()
        try:
            frame = await self.viewer.get()
        except ViewerClosed:
            self.stop()
            raise MediaStreamError from None
        if self._backlog > 0:
            self._backlog -= 1
            ts = self.clock.backlog(frame)
        else:
            ts = self.clock.live(frame)
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = ts
        packet.time_base = TIME_BASE
        self.sent += 1
        return packet

    def stop(self) -> None:
        self.viewer.close()
        super().stop()
