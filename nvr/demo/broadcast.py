"""One live RTP stream fanned out to every viewer of the demo doorbell.

Contract: the encoder thread turns each encoded frame into an ``AccessUnit`` with
``LiveFeed.unit`` (packetising off the event loop); the loop calls ``publish`` with it.
``publish`` keeps the current GOP (last keyframe onward) and sends the frame to every
playing viewer; ``start_playing`` sends a new viewer the cached GOP at once, then an RTCP
sender report. Nothing here awaits: every write goes straight into the viewer's transport
buffer, and a viewer whose buffer passes ``max_viewer_buffer`` bytes is cut off, so one
stalled viewer never delays the others or the loop.

Timestamps: RTP time is ``base + 90 kHz x (capture instant - start)`` on the clock's
monotonic time, and each sender report pairs "now" on that scale with "now" as NTP wall
time, which is how a receiver turns RTP timestamps into wall-clock capture times.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta

from nvr.clock import Clock
from nvr.demo.rtp import (
    RTP_CLOCK,
    au_payloads,
    interleaved,
    ntp_timestamp,
    parameter_sets,
    rtp_packet,
    sender_report,
)

log = logging.getLogger(__name__)

_GOP_CACHE_LIMIT = 600  # frames; bounds memory if an encoder ever stops sending keyframes


@dataclass(frozen=True)
class AccessUnit:
    payloads: tuple[bytes, ...]
    rtp_time: int
    keyframe: bool
    params: tuple[bytes, bytes] | None  # SPS, PPS when the frame carries them


class Viewer:
    """One RTSP connection's session state."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.session: str | None = None
        self.channels: tuple[int, int] | None = None  # interleaved RTP, RTCP
        self.playing = False
        self.seq = random.getrandbits(16)  # RFC 3550: the initial sequence number is random
        self.packets = 0
        self.octets = 0


class LiveFeed:
    def __init__(self, clock: Clock, *, max_viewer_buffer: int, cname: str) -> None:
        self._clock = clock
        self._max_buffer = max_viewer_buffer
        self._cname = cname
        self.ssrc = random.getrandbits(32)
        self._rtp_base = random.getrandbits(32)  # RFC 3550: a random starting point
        self._mono0, self._wall0 = clock.monotonic(), clock.wall()
        self.gop: list[AccessUnit] = []
        self.viewers: set[Viewer] = set()
        self.frames = 0
        self.dropped_viewers = 0

    def rtp_time(self, monotonic: float) -> int:
        return (self._rtp_base + round((monotonic - self._mono0) * RTP_CLOCK)) & 0xFFFFFFFF

    def unit(self, annexb: bytes, monotonic: float, keyframe: bool) -> AccessUnit:
        """Packetise one encoded frame (thread-safe; call it from the encoder thread)."""
        return AccessUnit(
            tuple(au_payloads(annexb)),
            self.rtp_time(monotonic),
            keyframe,
            parameter_sets(annexb) if keyframe else None,
        )

    def first_rtp_time(self) -> int:
        """RTP time of the first frame a viewer starting now receives (for RTP-Info)."""
        return self.gop[0].rtp_time if self.gop else self.rtp_time(self._clock.monotonic())

    def publish(self, unit: AccessUnit) -> bool:
        """Cache and send one frame; returns False for frames before the first keyframe."""
        if unit.keyframe:
            self.gop = [unit]
        elif self.gop and len(self.gop) < _GOP_CACHE_LIMIT:
            self.gop.append(unit)
        elif not self.gop:
            return False  # nothing decodable yet
        self.frames += 1
        for viewer in list(self.viewers):
            if viewer.playing:
                self._send_unit(viewer, unit)
        return True

    def start_playing(self, viewer: Viewer) -> None:
        # Called right after the PLAY answer is written and before control returns to the
        # loop, so no frame can slip in between the answer and the cached GOP.
        viewer.playing = True
        for unit in self.gop:
            self._send_unit(viewer, unit)
        self.send_report(viewer)

    def send_reports(self) -> None:
        for viewer in list(self.viewers):
            if viewer.playing:
                self.send_report(viewer)

    def send_report(self, viewer: Viewer) -> None:
        assert viewer.channels is not None
        now = self._clock.monotonic()
        report = sender_report(
            ssrc=self.ssrc,
            ntp=ntp_timestamp(self._wall0 + timedelta(seconds=now - self._mono0)),
            rtp_time=self.rtp_time(now),
            packets=viewer.packets,
            octets=viewer.octets,
            cname=self._cname,
        )
        self._write(viewer, interleaved(viewer.channels[1], report))

    def close_all(self) -> None:
        for viewer in list(self.viewers):
            viewer.playing = False
            viewer.writer.transport.abort()
        self.viewers.clear()

    def _send_unit(self, viewer: Viewer, unit: AccessUnit) -> None:
        assert viewer.channels is not None
        chunks = []
        last = len(unit.payloads) - 1
        for i, payload in enumerate(unit.payloads):
            packet = rtp_packet(
                payload, seq=viewer.seq, timestamp=unit.rtp_time, ssrc=self.ssrc, marker=i == last
            )
            viewer.seq = (viewer.seq + 1) & 0xFFFF
            viewer.packets += 1
            viewer.octets += len(payload)
            chunks.append(interleaved(viewer.channels[0], packet))
        self._write(viewer, b"".join(chunks))

    def _write(self, viewer: Viewer, data: bytes) -> None:
        transport = viewer.writer.transport
        if transport.is_closing():
            return
        viewer.writer.write(data)
        # Never await drain here: one slow viewer must not delay anyone else. A viewer
        # this far behind is not watching live any more; cut it off.
        if transport.get_write_buffer_size() > self._max_buffer:
            log.warning("demo doorbell: dropping a viewer that stopped reading")
            viewer.playing = False
            self.dropped_viewers += 1
            transport.abort()
