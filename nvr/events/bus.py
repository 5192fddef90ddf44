"""An in-process publish/subscribe bus for live events, shared by every event source.

Contract::

    bus = EventBus()                          # no loop needed to make one
    with bus.subscribe(maxsize=100) as sub:   # on the event loop; sub is bound to it
        async for event in sub: ...           # LiveEvent values, in publish order
    bus.publish(LiveEvent(...))               # any thread; never blocks, never raises

``publish`` hands the event to each subscriber's loop with ``call_soon_threadsafe``, so a
motion worker thread, an ONVIF task and a web handler can all publish, and subscribers
see one ordered stream. Each subscription holds at most ``maxsize`` events: a subscriber
that does not keep up loses its *oldest* events (counted in ``lost``), never the newest,
and never slows a publisher or another subscriber. Events published while nobody is
subscribed are gone: the bus is a live feed, not a log (sealed event records are the
log). ``close()`` (or leaving the ``with``) ends the iteration.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal

EventKind = Literal["motion", "doorbell", "camera_motion"]
EventPhase = Literal["start", "end", "instant"]


@dataclass(frozen=True)
class LiveEvent:
    """Something that happened at a camera. ``at`` is aware UTC; a ``motion`` event has a
    ``start`` and an ``end`` (the end carries the zones touched and the peak score), a
    doorbell press or an ONVIF camera-motion report is ``instant``."""

    camera: str
    kind: EventKind
    phase: EventPhase
    at: datetime
    zones: tuple[str, ...] = ()
    score: float | None = None


class LiveSubscription:
    """One subscriber's bounded queue, bound to the loop it was made on."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self.maxsize = maxsize
        self.lost = 0  # oldest events dropped because this subscriber fell behind
        self._bus = bus
        self._loop = loop
        self._items: deque[LiveEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def qsize(self) -> int:
        return len(self._items)

    def _offer(self, event: LiveEvent) -> None:
        """From any thread: queue ``event`` on the subscriber's loop."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
            self._loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: LiveEvent) -> None:  # on the loop
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.lost += 1
        self._items.append(event)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> LiveEvent:
        """The next event; ``StopAsyncIteration`` once closed and drained."""
        while True:
            if self._items:
                return self._items.popleft()
            if self._closed:
                raise StopAsyncIteration
            self._waiter = self._loop.create_future()
            await self._waiter

    def get_nowait(self) -> LiveEvent | None:
        return self._items.popleft() if self._items else None

    def __aiter__(self) -> LiveSubscription:
        return self

    async def __anext__(self) -> LiveEvent:
        return await self.get()

    def close(self) -> None:
        """Unsubscribe; a pending ``get`` returns what is queued, then stops."""
        self._bus._remove(self)
        if not self._closed:
            self._closed = True
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake)

    def __enter__(self) -> LiveSubscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """Fan-out of ``LiveEvent``s to subscribers; see the module docstring."""

    def __init__(self, maxsize: int = 100) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.published = 0
        self._lock = threading.Lock()
        self._subs: tuple[LiveSubscription, ...] = ()

    def subscribe(self, maxsize: int | None = None) -> LiveSubscription:
        """A new subscription on the running loop (call from a coroutine)."""
        size = self.maxsize if maxsize is None else maxsize
        if size < 1:
            raise ValueError(f"maxsize must be >= 1, got {size}")
        sub = LiveSubscription(self, asyncio.get_running_loop(), size)
        with self._lock:
            self._subs = (*self._subs, sub)
        return sub

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, event: LiveEvent) -> None:
        """Deliver ``event`` to every subscriber. Any thread; never blocks."""
        with self._lock:
            subs = self._subs
            self.published += 1
        for sub in subs:
            sub._offer(event)

    def _remove(self, sub: LiveSubscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)
