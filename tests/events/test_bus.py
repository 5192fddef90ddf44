"""The live event bus: every publisher (any thread) reaches every subscriber in order, a
slow subscriber loses its oldest events and never holds anyone up."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from nvr.events import EventBus, LiveEvent

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def event(n: int, camera: str = "porch") -> LiveEvent:
    return LiveEvent(camera, "motion", "instant", T0 + timedelta(seconds=n))


async def test_subscribers_get_every_event_in_order() -> None:
    bus = EventBus()
    with bus.subscribe() as a, bus.subscribe() as b:
        for n in range(5):
            bus.publish(event(n))
        got_a = [await a.get() for _ in range(5)]
        got_b = [await b.get() for _ in range(5)]
    assert got_a == got_b == [event(n) for n in range(5)]
    assert bus.subscribers == 0


async def test_publishing_from_threads_reaches_the_loop() -> None:
    bus = EventBus(maxsize=1000)
    with bus.subscribe() as sub:

        def publisher(camera: str) -> None:
            for n in range(100):
                bus.publish(event(n, camera))

        threads = [threading.Thread(target=publisher, args=(c,)) for c in ("a", "b", "c")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = [await asyncio.wait_for(sub.get(), 5) for _ in range(300)]
    assert sub.lost == 0
    for camera in ("a", "b", "c"):
        # Each publisher's own events arrive in the order it published them.
        assert [e for e in got if e.camera == camera] == [event(n, camera) for n in range(100)]


async def test_a_slow_subscriber_loses_its_oldest_events_only() -> None:
    bus = EventBus()
    with bus.subscribe(maxsize=3) as slow, bus.subscribe(maxsize=100) as fast:
        for n in range(10):
            bus.publish(event(n))  # never blocks, whatever the subscribers do
        await asyncio.sleep(0)  # let the deliveries run
        assert slow.qsize() == 3
        assert [slow.get_nowait() for _ in range(3)] == [event(7), event(8), event(9)]
        assert slow.lost == 7
        assert fast.qsize() == 10
        assert fast.lost == 0


async def test_iteration_ends_when_closed() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    received: list[LiveEvent] = []

    async def consume() -> None:
        async for item in sub:
            received.append(item)

    task = asyncio.create_task(consume())
    bus.publish(event(1))
    await asyncio.sleep(0.01)
    sub.close()
    await asyncio.wait_for(task, 5)
    assert received == [event(1)]
    bus.publish(event(2))  # nobody listening: gone, no error
    await asyncio.sleep(0)
    assert sub.get_nowait() is None
    assert bus.published == 2


def test_a_publish_after_the_loop_closed_is_harmless() -> None:
    bus = EventBus()
    loop = asyncio.new_event_loop()
    try:

        async def subscribe() -> None:
            bus.subscribe()

        loop.run_until_complete(subscribe())
    finally:
        loop.close()
    bus.publish(event(1))  # the subscriber's loop is gone: dropped, not raised
    assert bus.subscribers == 1


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        EventBus(maxsize=0)
