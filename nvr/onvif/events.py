"""ONVIF PullPoint events: doorbell presses and camera-side motion, kept subscribed.

Contract:

- ``EventSubscription(camera, host, port, username, password, on_event=...)``; ``run()``
  (a task the service runner owns) loops until cancelled: CreatePullPointSubscription,
  then PullMessages long polls (``pull_timeout`` s each, so a press arrives as soon as
  the camera has it), Renew at ``renew_fraction`` of the granted lifetime, and on any
  failure (camera reboot: unknown-subscription fault, refused connection, timeout) a
  fresh subscription after a capped, jittered backoff (``nvr.capture.policy.next_backoff``;
  wrong credentials back off to minutes so a camera does not lock the account).
  On cancellation it sends Unsubscribe (best effort, 2 s) before returning.
- Each notification is matched against ``TopicRule``s (``classify``, pure); a match calls
  ``on_event(kind, camera, time, raw_topic)`` with kind ``"doorbell"`` or
  ``"camera_motion"`` and ``time`` = our clock at receipt (camera clocks drift; the
  long poll makes receipt within milliseconds of the camera's report).
- Only rising edges count: the item must hold an "active" value, and ``Initialized``
  messages (the state a camera reports when a subscription starts) are ignored, so a
  stuck input does not ring again on every resubscribe.
- Topic matching ignores namespace prefixes on each path segment
  (``tns1:Device/tnsvendor:Trigger`` == ``Device/Trigger``): cameras bind ``tns1`` freely.

Default rules (configurable per camera):
  ``tns1:Device/Trigger/DigitalInput`` LogicalState=true -> doorbell (ONVIF standard: the
  button wired to a digital input); ``tns1:RuleEngine/MyRuleDetector/Visitor`` State=true
  -> doorbell (Reolink doorbells' visitor/call event); ``tns1:RuleEngine/CellMotionDetector
  /Motion`` IsMotion=true and ``tns1:VideoSource/MotionAlarm`` State=true -> camera_motion.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from onvif import ONVIFCamera
from onvif.util import normalize_url, stringify_onvif_error
from zeep.exceptions import Fault

from nvr.capture.policy import next_backoff
from nvr.clock import Clock, SystemClock
from nvr.onvif.device import translate_error
from nvr.onvif.errors import OnvifAuthFailed
from nvr.secrets import scrub

log = logging.getLogger(__name__)

EventKind = Literal["doorbell", "camera_motion"]
OnEvent = Callable[[EventKind, str, datetime, str], None]

_PULLPOINT_NS = "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription"
_TT = "{http://www.onvif.org/ver10/schema}"
_TRUE = frozenset({"true", "1"})
AUTH_BACKOFF_FIRST = 60.0
AUTH_BACKOFF_CAP = 600.0


@dataclass(frozen=True)
class TopicRule:
    topic: str
    kind: EventKind
    item: str  # the Data SimpleItem that carries the state
    active: frozenset[str] = field(default=_TRUE)


DEFAULT_RULES: tuple[TopicRule, ...] = (
    TopicRule("tns1:Device/Trigger/DigitalInput", "doorbell", "LogicalState"),
    TopicRule("tns1:RuleEngine/MyRuleDetector/Visitor", "doorbell", "State"),
    TopicRule("tns1:RuleEngine/CellMotionDetector/Motion", "camera_motion", "IsMotion"),
    TopicRule("tns1:VideoSource/MotionAlarm", "camera_motion", "State"),
)


@dataclass(frozen=True)
class Notification:
    topic: str
    operation: str | None  # Initialized | Changed | Deleted
    data: Mapping[str, str]


# --- pure decisions -------------------------------------------------------------------


def normalize_topic(topic: str) -> tuple[str, ...]:
    """Topic path segments without namespace prefixes."""
    return tuple(seg.rpartition(":")[2] for seg in topic.strip().strip("/").split("/") if seg)


def classify(note: Notification, rules: Iterable[TopicRule]) -> EventKind | None:
    """The event a notification means under ``rules``, or None."""
    if note.operation == "Initialized":
        return None
    path = normalize_topic(note.topic)
    for rule in rules:
        if normalize_topic(rule.topic) != path:
            continue
        value = note.data.get(rule.item)
        if value is not None and value.strip().lower() in rule.active:
            return rule.kind
    return None


def _items(container: Any) -> dict[str, str]:
    if container is None:
        return {}
    if hasattr(container, "iterfind"):  # an lxml element the schema did not resolve
        return {
            str(i.get("Name")): str(i.get("Value"))
            for i in container.iterfind(f"{_TT}SimpleItem")
            if i.get("Name") is not None
        }
    return {
        str(i.Name): str(i.Value)
        for i in getattr(container, "SimpleItem", None) or []
        if getattr(i, "Name", None) is not None
    }


def parse_notification(raw: Any) -> Notification | None:
    """A zeep NotificationMessage as plain values; None if it carries no topic."""
    topic_holder = getattr(raw, "Topic", None)
    topic = getattr(topic_holder, "_value_1", None)
    if not topic:
        return None
    message = getattr(getattr(raw, "Message", None), "_value_1", None)
    if message is None:
        return Notification(str(topic), None, {})
    if hasattr(message, "iterfind"):
        return Notification(
            str(topic), message.get("PropertyOperation"), _items(message.find(f"{_TT}Data"))
        )
    operation = getattr(message, "PropertyOperation", None)
    return Notification(
        str(topic),
        None if operation is None else str(operation),
        _items(getattr(message, "Data", None)),
    )


def renew_delay(
    current: datetime | None, termination: datetime | None, *, requested: float, fraction: float
) -> float:
    """Seconds until Renew: ``fraction`` of the lifetime the camera granted (its own clock
    on both ends, so a camera hours off still gets renewed on time)."""
    lifetime = requested
    if current is not None and termination is not None:
        granted = (termination - current).total_seconds()
        if granted > 0:
            lifetime = granted
    return max(lifetime * fraction, 0.5)


# --- I/O ------------------------------------------------------------------------------


class EventSubscription:
    """One camera's PullPoint subscription, kept alive; see the module docstring."""

    def __init__(
        self,
        camera: str,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        *,
        on_event: OnEvent,
        rules: Iterable[TopicRule] = DEFAULT_RULES,
        clock: Clock | None = None,
        lifetime: float = 60.0,
        renew_fraction: float = 0.8,
        pull_timeout: float = 10.0,
        message_limit: int = 32,
        rng: random.Random | None = None,
    ) -> None:
        self.camera = camera
        self._host, self._port = host, port
        self._username, self._password = username or "", password or ""
        self._on_event = on_event
        self.rules = tuple(rules)
        self._clock = clock or SystemClock()
        self._lifetime = lifetime
        self._renew_fraction = renew_fraction
        self._pull_timeout = pull_timeout
        self._message_limit = message_limit
        self._rng = rng or random.Random()  # noqa: S311 (backoff jitter, not crypto)
        self.subscribed = False
        self.subscriptions = 0  # successful CreatePullPointSubscription calls
        self.renewals = 0
        self.last_error: str | None = None

    def _duration(self) -> str:
        return f"PT{max(int(self._lifetime), 1)}S"

    async def run(self) -> None:
        """Subscribe, pull and renew until cancelled; resubscribe after any failure."""
        attempt = 0
        while True:
            device = ONVIFCamera(
                self._host,
                self._port,
                self._username,
                self._password,
                no_cache=True,
                adjust_time=True,
            )
            subscription: Any = None
            delay = 0.0
            try:
                subscription, pullpoint, renew_in = await self._subscribe(device)
                attempt = 0
                await self._pump(subscription, pullpoint, renew_in)
            except asyncio.CancelledError:
                if subscription is not None:
                    await self._unsubscribe(subscription)
                raise
            except Exception as exc:
                delay = self._failed(exc, attempt)
                attempt += 1
            finally:
                self.subscribed = False
                await device.close()
            await asyncio.sleep(delay)

    def _failed(self, exc: Exception, attempt: int) -> float:
        user_error = translate_error(exc, self._host, self._port)
        if isinstance(exc, Fault) and not isinstance(user_error, OnvifAuthFailed):
            # After a subscription exists, a fault means the camera lost it (reboot).
            self.last_error = scrub(f"camera fault: {stringify_onvif_error(exc)}")
        elif user_error is not None:
            self.last_error = str(user_error)
        else:
            self.last_error = scrub(f"{type(exc).__name__}: {exc}")
        log.warning("camera %s: ONVIF events: %s; resubscribing", self.camera, self.last_error)
        if isinstance(user_error, OnvifAuthFailed):
            return min(AUTH_BACKOFF_FIRST * 2.0**attempt, AUTH_BACKOFF_CAP)
        return next_backoff(attempt, self._rng)

    async def _subscribe(self, device: Any) -> tuple[Any, Any, float]:
        await device.update_xaddrs()
        events = await device.create_events_service()
        result = await events.CreatePullPointSubscription(
            {"InitialTerminationTime": self._duration()}
        )
        address = normalize_url(result.SubscriptionReference.Address._value_1)
        device.xaddrs[_PULLPOINT_NS] = address
        pullpoint = await device.create_pullpoint_service()
        subscription = await device.create_subscription_service("PullPointSubscription")
        self.subscribed = True
        self.subscriptions += 1
        log.info("camera %s: ONVIF events subscribed", self.camera)
        renew_in = renew_delay(
            result.CurrentTime,
            result.TerminationTime,
            requested=self._lifetime,
            fraction=self._renew_fraction,
        )
        return subscription, pullpoint, renew_in

    async def _pump(self, subscription: Any, pullpoint: Any, renew_in: float) -> None:
        renew_at = self._clock.monotonic() + renew_in
        while True:
            if self._clock.monotonic() >= renew_at:
                result = await subscription.Renew({"TerminationTime": self._duration()})
                self.renewals += 1
                renew_at = self._clock.monotonic() + renew_delay(
                    result.CurrentTime,
                    result.TerminationTime,
                    requested=self._lifetime,
                    fraction=self._renew_fraction,
                )
            wait = max(min(self._pull_timeout, renew_at - self._clock.monotonic()), 0.1)
            async with asyncio.timeout(wait + 10.0):  # a hung camera counts as a failure
                answer = await pullpoint.PullMessages(
                    {"Timeout": timedelta(seconds=wait), "MessageLimit": self._message_limit}
                )
            for raw in getattr(answer, "NotificationMessage", None) or []:
                self._dispatch(raw)

    def _dispatch(self, raw: Any) -> None:
        note = parse_notification(raw)
        if note is None:
            return
        kind = classify(note, self.rules)
        if kind is None:
            return
        try:
            self._on_event(kind, self.camera, self._clock.wall(), note.topic)
        except Exception:
            log.exception("camera %s: event callback failed", self.camera)

    async def _unsubscribe(self, subscription: Any) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await subscription.Unsubscribe()
