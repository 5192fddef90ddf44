"""Bounded per-consumer queues: a slow consumer loses its own packets, at GOP boundaries."""

from __future__ import annotations

import asyncio
import queue
import threading
from datetime import UTC, datetime

import av
import pytest

from nvr.capture.fanout import CapturedPacket, StreamInfo, Subscription, SubscriptionClosed

INFO = StreamInfo(session=1, codec="h264", width=320, height=180, time_base=None, extradata=None)


def item(n: int, keyframe: bool = False) -> CapturedPacket:
    packet = av.Packet(b"\x00" * 4)
    packet.pts = n
    return CapturedPacket(packet, keyframe, datetime(2026, 1, 1, tzinfo=UTC), float(n), INFO)


def drain(sub: Subscription) -> list[int]:
    out: list[int] = []
    while True:
        try:
            got = sub.get_nowait()
        except queue.Empty:
            return out
        assert got.packet.pts is not None
        out.append(got.packet.pts)


def test_full_queue_drops_until_the_next_keyframe() -> None:
    sub = Subscription(maxsize=3)
    gop = [0, 4, 8]
    accepted = [sub.put(item(n, keyframe=n in gop)) for n in range(10)]
    # 0,1,2 fit; 3 overflows; 4 (a keyframe) still finds the queue full and is dropped;
    # the consumer has not read, so everything after stays dropped too.
    assert accepted == [True, True, True] + [False] * 7
    assert sub.dropped == 7
    assert drain(sub) == [0, 1, 2]
    # Room again: P-frames are still refused until a keyframe restarts a decodable run.
    assert not sub.put(item(10))
    assert sub.put(item(12, keyframe=True))
    assert sub.put(item(13))
    assert drain(sub) == [12, 13]
    assert sub.dropped == 8


def test_a_fast_consumer_loses_nothing() -> None:
    sub = Subscription(maxsize=2)
    for n in range(50):
        assert sub.put(item(n, keyframe=n % 10 == 0))
        assert sub.get(timeout=1).packet.pts == n
    assert sub.dropped == 0


def test_get_blocks_then_times_out_and_close_wakes_readers() -> None:
    sub = Subscription(maxsize=4)
    with pytest.raises(queue.Empty):
        sub.get(timeout=0.05)
    sub.put(item(1, keyframe=True))
    got: list[object] = []

    def consume() -> None:
        try:
            while True:
                got.append(sub.get(timeout=5).packet.pts)
        except SubscriptionClosed:
            got.append("closed")

    thread = threading.Thread(target=consume)
    thread.start()
    sub.close()
    thread.join(5)
    assert got == [1, "closed"]
    assert not sub.put(item(2, keyframe=True))
    with pytest.raises(ValueError, match="maxsize"):
        Subscription(maxsize=0)


async def test_async_consumer_is_woken_from_another_thread() -> None:
    sub = Subscription(maxsize=8, loop=asyncio.get_running_loop())

    def produce() -> None:
        for n in range(3):
            sub.put(item(n, keyframe=n == 0))
        sub.close()

    threading.Thread(target=produce).start()
    seen = [(await asyncio.wait_for(sub.aget(), 5)).packet.pts for _ in range(3)]
    assert seen == [0, 1, 2]
    with pytest.raises(SubscriptionClosed):
        await asyncio.wait_for(sub.aget(), 5)
    with pytest.raises(RuntimeError, match="event loop"):
        await Subscription(maxsize=1).aget()
