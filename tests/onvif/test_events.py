"""PullPoint events: topic rules as pure functions, then the real client loop against the
PullPoint double (responses rendered from the WSDLs onvif-zeep-async ships)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from nvr.onvif.events import (
    DEFAULT_RULES,
    EventKind,
    EventSubscription,
    Notification,
    TopicRule,
    classify,
    normalize_topic,
    renew_delay,
)
from tests.onvif.pullpoint_double import PullPointDouble

DOORBELL = "tns1:Device/Trigger/DigitalInput"
MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"


@pytest.mark.parametrize(
    ("topic", "item", "value", "kind"),
    [
        (DOORBELL, "LogicalState", "true", "doorbell"),
        (DOORBELL, "LogicalState", "false", None),
        ("tns1:RuleEngine/MyRuleDetector/Visitor", "State", "true", "doorbell"),
        (MOTION, "IsMotion", "true", "camera_motion"),
        (MOTION, "IsMotion", "false", None),
        ("tns1:VideoSource/MotionAlarm", "State", "1", "camera_motion"),
        ("tt:Device/tnsvendor:Trigger/DigitalInput", "LogicalState", "TRUE", "doorbell"),
        ("tns1:Device/Trigger/Relay", "LogicalState", "active", None),
        (DOORBELL, "OtherItem", "true", None),
    ],
)
def test_default_rules(topic: str, item: str, value: str, kind: EventKind | None) -> None:
    assert classify(Notification(topic, "Changed", {item: value}), DEFAULT_RULES) == kind


def test_initialized_state_is_not_a_press() -> None:
    note = Notification(DOORBELL, "Initialized", {"LogicalState": "true"})
    assert classify(note, DEFAULT_RULES) is None


def test_custom_vendor_rule() -> None:
    rule = TopicRule("tns1:Vendor/Call", "doorbell", "Status", frozenset({"ringing"}))
    assert classify(Notification("x:Vendor/y:Call", None, {"Status": "Ringing"}), [rule]) == (
        "doorbell"
    )
    assert normalize_topic("tns1:A/b:B/C/") == ("A", "B", "C")


def test_renew_delay_uses_the_lifetime_the_camera_granted() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    later = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert renew_delay(t0, later, requested=60, fraction=0.8) == 8.0
    assert renew_delay(None, None, requested=60, fraction=0.8) == 48.0
    assert renew_delay(later, t0, requested=60, fraction=0.8) == 48.0  # nonsense: ignore


@dataclass
class Received:
    events: list[tuple[float, EventKind, str, datetime, str]] = field(default_factory=list)

    def __call__(self, kind: EventKind, camera: str, when: datetime, topic: str) -> None:
        self.events.append((time.monotonic(), kind, camera, when, topic))


async def _until(condition: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


@dataclass
class Rig:
    double: PullPointDouble
    sub: EventSubscription
    received: Received
    task: asyncio.Task[None]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    double = PullPointDouble()
    port = await double.start()
    received = Received()
    sub = EventSubscription(
        "porch",
        "127.0.0.1",
        port,
        "admin",
        "pw",
        on_event=received,
        lifetime=2.0,
        renew_fraction=0.5,
        pull_timeout=1.0,
    )
    task = asyncio.create_task(sub.run())
    try:
        await _until(lambda: sub.subscribed, 10.0)
        yield Rig(double, sub, received, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await double.close()


async def _press(rig: Rig, topic: str = DOORBELL, item: str = "LogicalState") -> float:
    before = len(rig.received.events)
    sent = time.monotonic()
    assert rig.double.notify(topic, item, "true") == 1
    await _until(lambda: len(rig.received.events) > before, 5.0)
    return rig.received.events[-1][0] - sent


async def test_doorbell_press_becomes_an_event_within_a_second(rig: Rig) -> None:
    latency = await _press(rig)
    assert latency < 1.0
    [(_, kind, camera, when, topic)] = rig.received.events
    assert (kind, camera, topic) == ("doorbell", "porch", DOORBELL)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 5


async def test_camera_motion_becomes_an_event_within_a_second(rig: Rig) -> None:
    assert await _press(rig, MOTION, "IsMotion") < 1.0
    assert rig.received.events[-1][1:3] == ("camera_motion", "porch")


async def test_release_and_unrelated_topics_are_not_events(rig: Rig) -> None:
    rig.double.notify(DOORBELL, "LogicalState", "false")
    rig.double.notify("tns1:Monitoring/ProcessorUsage", "Value", "true")
    await _press(rig)
    assert [e[1] for e in rig.received.events] == ["doorbell"]


async def test_subscription_is_renewed_before_it_terminates(rig: Rig) -> None:
    await asyncio.sleep(3.5)  # lifetime 2 s: gone by now unless renewed
    assert rig.sub.renewals >= 2
    assert rig.sub.subscriptions == 1
    assert rig.double.operations.count("Renew") == rig.sub.renewals
    assert await _press(rig) < 1.0


async def test_after_a_reboot_it_resubscribes_and_still_delivers(rig: Rig) -> None:
    rig.double.reboot()
    await _until(lambda: rig.sub.subscriptions == 2 and rig.sub.subscribed, 10.0)
    assert rig.sub.last_error is not None
    assert rig.sub.last_error.startswith("camera fault: ")
    assert "ResourceUnknownFault" in rig.sub.last_error
    assert await _press(rig) < 1.0
    assert rig.double.live_subscriptions == 1


async def test_stop_unsubscribes(rig: Rig) -> None:
    rig.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await rig.task
    assert rig.double.operations[-1] == "Unsubscribe"
    assert rig.double.live_subscriptions == 0


async def test_client_sends_only_the_operations_the_double_answers(rig: Rig) -> None:
    await _press(rig)
    assert set(rig.double.operations) <= {
        "GetSystemDateAndTime",
        "GetServices",
        "CreatePullPointSubscription",
        "PullMessages",
        "Renew",
    }
    assert rig.double.operations[-1] == "PullMessages"
