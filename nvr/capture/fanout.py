"""Handing captured packets to several consumers without letting any of them slow capture.

Contract: the reader thread calls ``Subscription.put`` for every packet; ``put`` never
blocks. Each subscription is a bounded queue. When a consumer falls behind and its queue
is full, *its* packets are dropped — the incoming one and every one after it up to the
next (video) keyframe, so what it does receive always decodes (a P-frame whose reference was
dropped would show garbage). ``dropped`` counts them. Consumers read with ``get`` (thread,
``queue.Queue``-like: ``queue.Empty`` on timeout) or ``await aget()`` (asyncio, when the
subscription was made with a loop). After ``close()`` a reader drains what is queued and
then gets ``SubscriptionClosed``.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

import av

PacketKind = Literal["video", "audio"]


class SubscriptionClosed(Exception):
    """The stream reader stopped, or the subscription was closed."""


@dataclass(frozen=True)
class StreamInfo:
    """What a consumer needs to decode or remux one connection's packets."""

    session: int  # 1 for the first connection, +1 per reconnect: a change means a gap
    codec: str
    width: int
    height: int
    time_base: Fraction | None
    extradata: bytes | None  # SPS/PPS (Annex B for RTSP), from the SDP
    audio: AudioInfo | None = None  # set when the reader demuxes the camera's audio too


@dataclass(frozen=True)
class AudioInfo:
    """The audio track demuxed alongside the video (``StreamReader(audio=True)``)."""

    codec: str  # FFmpeg's name: "aac", "pcm_mulaw", "pcm_alaw", "pcm_s16be", ...
    sample_rate: int
    channels: int
    time_base: Fraction | None
    extradata: bytes | None  # AAC AudioSpecificConfig, from the SDP


@dataclass(frozen=True)
class CapturedPacket:
    packet: av.Packet[Any]
    keyframe: bool  # always False for audio: only video keyframes start GOPs and segments
    received_at: datetime  # wall clock (UTC) when the reader got it
    received_mono: float  # the same instant on the monotonic clock
    info: StreamInfo
    kind: PacketKind = "video"
    # The camera's own wall clock (UTC) for this packet's decode time, from its RTCP sender
    # reports (FFmpeg's start_time_realtime plus the packet's dts). None before the first
    # report, for audio, and for streams without RTCP. The camera's clock may be wrong:
    # the recorder decides whether to trust it (docs/design/recording.md, "Wall clock").
    camera_time: datetime | None = None


class Subscription:
    """One consumer's bounded queue; see the module docstring."""

    def __init__(self, maxsize: int = 64, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[CapturedPacket] = deque()
        self._cond = threading.Condition()
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        self._resync = False
        self._closed = False

    def qsize(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: CapturedPacket) -> bool:
        """Queue ``item`` if there is room; never blocks. Returns whether it was queued."""
        with self._cond:
            if self._closed:
                return False
            if self._resync and not item.keyframe:
                self.dropped += 1
                return False
            if len(self._items) >= self.maxsize:
                self.dropped += 1
                self._resync = True
                return False
            self._resync = False
            self._items.append(item)
            self._cond.notify()
            waiter, self._waiter = self._waiter, None
        self._wake(waiter)
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            waiter, self._waiter = self._waiter, None
        self._wake(waiter)

    def _wake(self, waiter: asyncio.Future[None] | None) -> None:
        if waiter is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(_resolve, waiter)

    def get(self, block: bool = True, timeout: float | None = None) -> CapturedPacket:
        with self._cond:
            if block:
                self._cond.wait_for(lambda: self._items or self._closed, timeout)
            if self._items:
                return self._items.popleft()
            if self._closed:
                raise SubscriptionClosed
            raise queue.Empty

    def get_nowait(self) -> CapturedPacket:
        return self.get(block=False)

    async def aget(self) -> CapturedPacket:
        """Next packet, awaited on the event loop this subscription was made with."""
        if self._loop is None:
            raise RuntimeError("subscription has no event loop; pass loop= to subscribe()")
        while True:
            with self._cond:
                if self._items:
                    return self._items.popleft()
                if self._closed:
                    raise SubscriptionClosed
                waiter = self._loop.create_future()
                self._waiter = waiter
            await waiter


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
