"""The notifier: nothing unless configured, bus events and camera states to every sink;
the bounded outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence

import pytest

from nvr.clock import FakeClock
from nvr.config import NotificationsConfig
from nvr.events import EventBus, LiveEvent
from nvr.notify import Notice, Notifier, Outbox
from nvr.notify.mqtt import MqttSink
from nvr.notify.notice import LOG_EVERY
from nvr.notify.webhooks import WebhookSink
from nvr.service.status import CameraStatus

T0 = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)


class Recorder:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.names: list[tuple[str, ...]] = []
        self.notices: list[Notice] = []

    def cameras(self, names: Sequence[str]) -> None:
        self.names.append(tuple(names))

    def offer(self, notice: Notice) -> None:
        self.notices.append(notice)

    async def run(self, stop: asyncio.Event) -> None:
        await stop.wait()


def test_nothing_configured_means_no_notifier() -> None:
    """Zero egress by default: no sink, no task, no socket."""
    assert Notifier.from_config(NotificationsConfig(), EventBus(), list, "b", "1") is None


def test_the_config_picks_the_sinks() -> None:
    cfg = NotificationsConfig.model_validate(
        {
            "mqtt": {"enabled": True},
            "webhooks": [
                {"name": "a", "url": "http://127.0.0.1/", "secret": "k", "events": ["motion"]}
            ],
        }
    )
    notifier = Notifier.from_config(cfg, EventBus(), list, "b", "1")
    assert notifier is not None
    assert [type(s) for s in notifier.sinks] == [MqttSink, WebhookSink]


def test_camera_states_become_online_and_offline_notices() -> None:
    sink = Recorder()
    states = [CameraStatus(name="front", state="connecting")]
    notifier = Notifier(EventBus(), lambda: states, [sink], clock=FakeClock(T0))
    notifier.poll()
    assert sink.names == [("front",)]
    assert sink.notices == []  # connecting: nothing known yet
    for state in ("online", "online", "offline", "connecting", "auth_failed", "online"):
        states = [CameraStatus(name="front", state=state)]
        notifier.poll()
    kinds = [n.kind for n in sink.notices]
    assert kinds == ["camera_online", "camera_offline", "camera_online"]
    states = [CameraStatus(name="front", state="online"), CameraStatus(name="back", state="x")]
    notifier.poll()
    assert sink.names[-1] == ("front", "back")


async def test_bus_events_reach_every_sink_in_order() -> None:
    bus = EventBus()
    sinks = [Recorder(), Recorder()]
    notifier = Notifier(bus, list, sinks, poll_seconds=0.01)
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    await notifier.listening.wait()
    bus.publish(LiveEvent("front", "motion", "start", T0))
    bus.publish(LiveEvent("front", "doorbell", "instant", T0))
    bus.publish(LiveEvent("front", "camera_motion", "instant", T0))
    bus.publish(LiveEvent("front", "motion", "end", T0, ("porch",), 0.5))
    stop.set()
    await task
    for sink in sinks:
        assert [n.kind for n in sink.notices] == [
            "motion_start",
            "doorbell",
            "camera_motion",
            "motion_end",
        ]
    assert sinks[0].notices[-1].as_json()["zones"] == ["porch"]


def test_stats_name_each_sink_with_its_queue_and_counters() -> None:
    hook = {"name": "ha", "url": "http://127.0.0.1/", "secret": "k", "events": ["doorbell"]}
    cfg = NotificationsConfig.model_validate({"mqtt": {"enabled": True}, "webhooks": [hook]})
    notifier = Notifier.from_config(cfg, EventBus(), list, "b", "1")
    assert notifier is not None
    mqtt, webhook = notifier.stats()
    assert mqtt == {
        "sink": "MqttSink",
        "destination": "mqtt",
        "queued": 0,
        "dropped": 0,
        "published": 0,
        "connections": 0,
        "presses": 0,
    }
    assert webhook["destination"] == "webhook ha"
    assert (webhook["delivered"], webhook["failed"]) == (0, 0)


async def test_outbox_drops_the_oldest_counts_and_logs_sparingly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = Outbox(3, "test")
    with caplog.at_level(logging.WARNING, logger="nvr.notify.notice"):
        for second in range(3 + LOG_EVERY):
            box.put(Notice("front", "doorbell", T0 + dt.timedelta(seconds=second)))
    assert box.dropped == LOG_EVERY
    assert len(box) == 3
    first = box.peek()
    assert first is not None
    assert first.at == T0 + dt.timedelta(seconds=LOG_EVERY)
    assert len(caplog.records) == 2  # the first drop, and the LOG_EVERY-th
    box.pop()
    box.pop()
    box.pop()
    assert box.peek() is None
    box.wake()
    async with asyncio.timeout(5):
        await box.wait()  # returns: woken
