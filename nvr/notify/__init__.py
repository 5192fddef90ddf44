"""Events out of the box, opt-in: MQTT (with Home Assistant discovery) and signed webhooks.

Contract::

    notifier = Notifier.from_config(cfg.notifications, bus, statuses, device_id, version)
    if notifier is not None:                 # None: nothing configured, nothing connects
        task = asyncio.create_task(notifier.run(stop))
    notifier.stats()                         # per sink: queued, dropped, sent ... (metrics)

``Notifier`` feeds every sink from two sources: the live ``EventBus`` (motion starts and
ends, doorbell presses, camera-side motion: the stream the dashboard's SSE shows) and the
cameras' states, read from ``statuses()`` every ``poll_seconds`` (a camera that becomes
``online`` is a ``camera_online`` notice; ``offline``, ``auth_failed``, ``unreachable``
or ``unsupported`` a ``camera_offline`` one; ``connecting`` changes nothing). The list of
camera names from the same poll tells the sinks which cameras exist (the MQTT sink
announces them to Home Assistant). Each sink has its own bounded queue and its own task,
so a broker that is away never holds up a webhook, and neither holds up the bus (its
subscription is drained at once). With MQTT enabled, ``on_press(camera)`` receives the
presses of bell buttons that report on a camera's ``doorbell_topic`` (``doorbell_topics()``:
camera -> topic). With no broker enabled and no webhook configured the notifier is
``None``: no task, no socket. See docs/design/home-assistant.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from nvr.clock import Clock, SystemClock
from nvr.config import NotificationsConfig
from nvr.events import EventBus
from nvr.notify.notice import Notice, NoticeKind, Outbox
from nvr.service.status import CameraStatus

__all__ = ["Notice", "Notifier", "Outbox", "Sink"]

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
BUS_QUEUE = 1000
OFFLINE_STATES = frozenset({"offline", "auth_failed", "unreachable", "unsupported"})


class Sink(Protocol):
    def cameras(self, names: Sequence[str]) -> None: ...
    def offer(self, notice: Notice) -> None: ...
    async def run(self, stop: asyncio.Event) -> None: ...


class Notifier:
    """Fans events and camera states out to the sinks; see the module docstring."""

    def __init__(
        self,
        bus: EventBus,
        statuses: Callable[[], Sequence[CameraStatus]],
        sinks: Sequence[Sink],
        *,
        clock: Clock | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.bus = bus
        self.statuses = statuses
        self.sinks = tuple(sinks)
        self.clock = clock or SystemClock()
        self.poll_seconds = poll_seconds
        self._states: dict[str, str] = {}
        self._names: tuple[str, ...] | None = None
        self.listening = asyncio.Event()  # set once subscribed to the bus

    @staticmethod
    def from_config(
        cfg: NotificationsConfig,
        bus: EventBus,
        statuses: Callable[[], Sequence[CameraStatus]],
        device_id: str,
        version: str,
        *,
        doorbell_topics: Callable[[], Mapping[str, str]] = dict,
        on_press: Callable[[str], None] | None = None,
    ) -> Notifier | None:
        """The notifier the config asks for, or ``None`` when it asks for nothing (then
        not even the MQTT client library is imported)."""
        sinks: list[Sink] = []
        if cfg.mqtt.enabled:
            from nvr.notify.mqtt import MqttSink

            sinks.append(
                MqttSink(
                    cfg.mqtt,
                    device_id,
                    version,
                    doorbell_topics=doorbell_topics,
                    on_press=on_press,
                )
            )
        if cfg.webhooks:
            from nvr.notify.webhooks import WebhookSink

            sinks += [WebhookSink(hook, device_id, version) for hook in cfg.webhooks]
        return Notifier(bus, statuses, sinks) if sinks else None

    def _offer(self, notice: Notice) -> None:
        for sink in self.sinks:
            sink.offer(notice)

    def poll(self) -> None:
        """Read the cameras' states once: new names to the sinks, changes as notices."""
        current = {s.name: s.state for s in self.statuses()}
        names = tuple(current)
        if names != self._names:
            self._names = names
            for sink in self.sinks:
                sink.cameras(names)
        now = self.clock.wall()
        for name, state in current.items():
            kind: NoticeKind | None = None
            if state == "online":
                kind = "camera_online"
            elif state in OFFLINE_STATES:
                kind = "camera_offline"
            before = self._states.get(name)
            if kind is not None and kind != before:
                self._states[name] = kind
                self._offer(Notice(name, kind, now))
        for gone in set(self._states) - set(current):
            del self._states[gone]

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: pass events on, poll camera states; then hand the sinks what the
        bus still held and let them finish (MQTT: flush and sign off)."""
        finish = asyncio.Event()  # the sinks' stop: after the last events reached them
        with self.bus.subscribe(BUS_QUEUE) as sub:
            self.listening.set()
            sinks = [asyncio.create_task(sink.run(finish)) for sink in self.sinks]
            for task in sinks:
                task.add_done_callback(_report_crash)
            poller = asyncio.create_task(self._poll_until(stop))
            stopped = asyncio.create_task(stop.wait())
            try:
                while True:
                    getter = asyncio.create_task(sub.get())
                    await asyncio.wait({getter, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        break
                    try:
                        event = getter.result()
                    except StopAsyncIteration:
                        break
                    self._offer(Notice.from_live(event))
                await asyncio.sleep(0)  # hand-offs from other threads queued just before
                while (late := sub.get_nowait()) is not None:
                    self._offer(Notice.from_live(late))
            finally:
                stopped.cancel()
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
                finish.set()
                await asyncio.gather(*sinks, return_exceptions=True)

    def stats(self) -> list[dict[str, object]]:
        """Per sink: its queue and its counters (for status pages and metrics)."""
        out: list[dict[str, object]] = []
        for sink in self.sinks:
            outbox = getattr(sink, "outbox", None)
            row: dict[str, object] = {"sink": type(sink).__name__}
            if isinstance(outbox, Outbox):
                row |= {"destination": outbox.name, "queued": len(outbox)}
                row["dropped"] = outbox.dropped
            for counter in ("published", "connections", "delivered", "failed", "presses"):
                value = getattr(sink, counter, None)
                if isinstance(value, int):
                    row[counter] = value
            out.append(row)
        return out

    async def _poll_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.poll()
            except Exception:
                log.exception("could not read the cameras' states for notifications")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_seconds)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a notification sender stopped", exc_info=task.exception())
