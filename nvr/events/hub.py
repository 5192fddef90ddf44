"""Where every event source reports: the live bus, and the sealed record of each event.

Contract::

    hub = EventHub(bus)                       # in the service's constructor: no I/O
    hub.open(loop, store=lambda: events)      # once the event store exists (on the loop)
    hub.instant("doorbell", camera, when, {"source": "onvif", ...})   # on the loop
    hub.on_start(camera, when)                # motion worker thread (a MotionSink)
    hub.on_motion(camera, when)
    hub.on_end(camera, details, thumbnail)
    await hub.close()                         # before the store closes: pending writes

A doorbell press or an ONVIF camera-motion report is one ``instant`` live event and one
sealed record. A motion event is a ``start`` and an ``end`` live event and one sealed
record, written when it ends (with its thumbnail). Sealing is disk and crypto work: it
runs on one sealing thread of the hub's own (never on the loop or a motion worker's
thread), so records are written one at a time in the order the events happened (SQLite
has one writer anyway), and the futures are kept so that ``close`` waits for them.
``store()`` returning ``None`` (no owner keys yet) means events are published live but
not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nvr.events.bus import EventBus, EventKind, LiveEvent

if TYPE_CHECKING:
    from nvr.storage.sealed import EventStore

log = logging.getLogger(__name__)


class EventHub:
    """Publishes and keeps events; see the module docstring."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.stored = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._store: Callable[[], EventStore | None] = lambda: None
        self._pending: set[asyncio.Future[int]] = set()
        self._sealer: ThreadPoolExecutor | None = None

    def open(self, loop: asyncio.AbstractEventLoop, store: Callable[[], EventStore | None]) -> None:
        """Start keeping events (the sealing thread starts with the first one)."""
        self._loop, self._store = loop, store
        self._sealer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal-events")

    async def drain(self) -> None:
        """Wait for every sealed record being written."""
        await asyncio.sleep(0)  # hand-offs from worker threads queued just before this
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def close(self) -> None:
        """Write what is pending, then stop keeping events (they are still published)."""
        await self.drain()
        sealer, self._sealer = self._sealer, None
        if sealer is not None:
            sealer.shutdown(wait=False)  # idle: everything it was given is written

    # --- sources on the event loop ----------------------------------------------------

    def instant(
        self, kind: EventKind, camera: str, when: datetime, extra: Mapping[str, Any]
    ) -> None:
        """A doorbell press or camera-side motion: publish it and keep it. On the loop."""
        self.bus.publish(LiveEvent(camera, kind, "instant", when))
        self._keep(camera, {"type": kind, "start": when, **extra}, None)

    # --- motion workers (a MotionSink: called on their threads) ---------------------

    def on_start(self, camera: str, when: datetime) -> None:
        log.info("motion started", extra={"camera": camera})
        self.bus.publish(LiveEvent(camera, "motion", "start", when))

    def on_motion(self, camera: str, when: datetime) -> None:
        """Nothing to publish per frame: the live stream carries starts and ends."""

    def on_end(self, camera: str, details: dict[str, Any], thumbnail: bytes | None) -> None:
        log.info("motion ended", extra={"camera": camera})
        zones = tuple(str(z) for z in details.get("zones", ()))
        score = details.get("peak_score")
        end = details["end"]
        self.bus.publish(LiveEvent(camera, "motion", "end", end, zones, score))
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is gone: the service stopped
            loop.call_soon_threadsafe(self._keep, camera, details, thumbnail)

    # --- sealing ------------------------------------------------------------------------

    def _keep(self, camera: str, details: Mapping[str, Any], thumbnail: bytes | None) -> None:
        """On the loop: seal the record in the executor, remembering the future."""
        store, loop, sealer = self._store(), self._loop, self._sealer
        if store is None or loop is None or sealer is None:
            return
        future = loop.run_in_executor(sealer, store.add, camera, dict(details), thumbnail)
        self._pending.add(future)
        future.add_done_callback(self._written)

    def _written(self, future: asyncio.Future[int]) -> None:
        self._pending.discard(future)
        if future.cancelled():
            return
        if future.exception() is not None:
            log.error("could not store a camera event", exc_info=future.exception())
        else:
            self.stored += 1
