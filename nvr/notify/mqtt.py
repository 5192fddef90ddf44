"""Events to an MQTT broker, with Home Assistant MQTT discovery (docs/design/home-assistant.md).

Contract::

    sink = MqttSink(cfg.notifications.mqtt, device_id, version)
    sink.cameras(["front", "back"])     # the cameras to announce (any time; on the loop)
    sink.offer(notice)                  # queue an event (never blocks; on the loop)
    await sink.run(stop)                # connect, announce, publish, reconnect ... until stop

Topics (``P`` = ``topic_prefix``, ``D`` = ``discovery_prefix``, ``N`` = ``porchlight_<device
id>``, ``C`` = a camera's name):

- ``P/availability``: ``online`` (retained) once connected; ``offline`` (retained) on a
  clean stop, and as the connection's last will, which the broker publishes when the
  process dies or the network goes.
- ``P/C/motion``: ``ON`` / ``OFF`` (retained): detected motion starts and ends.
- ``P/C/connectivity``: ``ON`` / ``OFF`` (retained): the camera's stream is up or down.
- ``P/C/doorbell``: ``{"event_type": "press", ...}`` (not retained) per press.
- ``P/C/events``: every notice of the camera as JSON (``Notice.as_json``, not retained),
  for consumers other than Home Assistant.
- ``D/binary_sensor/N/C_motion/config``, ``D/binary_sensor/N/C_connectivity/config`` and
  ``D/event/N/C_doorbell/config``: discovery configs (retained), one Home Assistant device
  per camera. A camera that goes away gets empty retained configs (Home Assistant removes
  its entities).

Nothing else is published: no image, no clip, no URL to one. Everything is QoS 1.

Inbound, with ``on_press``: each camera's ``doorbell_topic`` (``doorbell_topics()``, camera
-> topic filter, read on each connection and when the cameras change) is subscribed, and
any message on it is a press of that camera's bell: ``on_press(camera)`` on the loop, at
most one per camera per ``PRESS_GAP_SECONDS``. A filter that would match the sink's own
topics (under ``topic_prefix``, or starting with a wildcard) is refused with a warning.

Delivery: notices wait in a bounded ``Outbox`` (``queue_size``; the oldest dropped,
counted and logged when full) and leave it only once the broker acknowledged them, so a
broker restart or a network outage loses nothing that fits in the queue: the sink
reconnects with exponential backoff (``retry_min`` doubling to ``retry_max`` seconds) and
sends the backlog in order. A lost connection is noticed when it happens, even with
nothing to send (the client's message iteration ends). On every connection it publishes
``online``, the discovery configs and the last retained state of each topic (a broker
without persistence forgets them). A notice may arrive twice (a publish whose
acknowledgement was lost is sent again): ``id`` tells them apart. The password is never
logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiomqtt

from nvr.config import MqttConfig
from nvr.notify.notice import Notice, Outbox

__all__ = ["AVAILABLE", "NOT_AVAILABLE", "MqttSink", "discovery", "settle", "tls_context"]

log = logging.getLogger(__name__)

AVAILABLE = "online"
NOT_AVAILABLE = "offline"
QOS = 1
KEEPALIVE_SECONDS = 30
PUBLISH_TIMEOUT_SECONDS = 10.0
FLUSH_SECONDS = 2.0  # on a clean stop: how long queued notices may still take
PRESS_GAP_SECONDS = 1.0  # inbound doorbell messages closer than this are one press


def tls_context(cfg: MqttConfig) -> ssl.SSLContext | None:
    """The TLS context for the broker (certificate and host name checked), or ``None``."""
    tls = cfg.tls
    if not tls.enabled:
        return None
    context = ssl.create_default_context(cafile=None if tls.ca_file is None else str(tls.ca_file))
    if tls.cert_file is not None and tls.key_file is not None:
        context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return context


def discovery(
    cfg: MqttConfig, device_id: str, version: str, camera: str
) -> list[tuple[str, dict[str, Any]]]:
    """The Home Assistant discovery configs of one camera: ``(topic, payload)`` pairs."""
    node = f"porchlight_{device_id}"
    base = f"{cfg.topic_prefix}/{camera}"
    common: dict[str, Any] = {
        "availability": [
            {
                "topic": f"{cfg.topic_prefix}/availability",
                "payload_available": AVAILABLE,
                "payload_not_available": NOT_AVAILABLE,
            }
        ],
        "device": {
            "identifiers": [f"{node}_{camera}"],
            "name": f"Porchlight {camera}",
            "manufacturer": "Porchlight",
            "model": "Doorbell camera (Porchlight NVR)",
            "sw_version": version,
        },
        "origin": {"name": "Porchlight", "sw_version": version},
        "qos": QOS,
    }
    motion = {
        **common,
        "name": "Motion",
        "unique_id": f"{node}_{camera}_motion",
        "device_class": "motion",
        "state_topic": f"{base}/motion",
        "payload_on": "ON",
        "payload_off": "OFF",
    }
    connectivity = {
        **common,
        "name": "Camera connection",
        "unique_id": f"{node}_{camera}_connectivity",
        "device_class": "connectivity",
        "entity_category": "diagnostic",
        "state_topic": f"{base}/connectivity",
        "payload_on": "ON",
        "payload_off": "OFF",
    }
    doorbell = {
        **common,
        "name": "Doorbell",
        "unique_id": f"{node}_{camera}_doorbell",
        "device_class": "doorbell",
        "state_topic": f"{base}/doorbell",
        "event_types": ["press"],
    }
    prefix = cfg.discovery_prefix
    return [
        (f"{prefix}/binary_sensor/{node}/{camera}_motion/config", motion),
        (f"{prefix}/binary_sensor/{node}/{camera}_connectivity/config", connectivity),
        (f"{prefix}/event/{node}/{camera}_doorbell/config", doorbell),
    ]


def settle(client: aiomqtt.Client) -> None:
    """Mark a lost connection's error as seen: aiomqtt keeps it in a future that nobody
    awaits once the session has ended, and asyncio would log it as never retrieved."""
    lost = getattr(client, "_disconnected", None)
    if isinstance(lost, asyncio.Future) and lost.done() and not lost.cancelled():
        lost.exception()


class MqttSink:
    """One broker connection, kept up; see the module docstring."""

    def __init__(
        self,
        cfg: MqttConfig,
        device_id: str,
        version: str,
        *,
        retry_min: float = 1.0,
        retry_max: float = 60.0,
        doorbell_topics: Callable[[], Mapping[str, str]] = dict,
        on_press: Callable[[str], None] | None = None,
    ) -> None:
        self.cfg = cfg
        # Inbound: a bell button that reports on MQTT (cameras[].doorbell_topic).
        self.doorbell_topics = doorbell_topics  # camera -> topic (read on each connect)
        self.on_press = on_press
        self.presses = 0
        self._subscribed: dict[str, str] = {}  # topic filter -> camera
        self._last_press: dict[str, float] = {}
        self.device_id = device_id
        self.version = version
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.outbox = Outbox(cfg.queue_size, "mqtt")
        self.published = 0
        self.connections = 0
        self.availability = f"{cfg.topic_prefix}/availability"
        self._wanted: tuple[str, ...] = ()
        self._announced: tuple[str, ...] = ()
        self._announce_all = True  # a new connection: announce every camera again
        self._retained: dict[str, str] = {}  # topic -> the last state published
        self._stopping = False

    # --- on the loop, from the dispatcher ------------------------------------------------

    def cameras(self, names: Sequence[str]) -> None:
        """The cameras to announce from now on."""
        wanted = tuple(dict.fromkeys(names))
        if wanted != self._wanted:
            self._wanted = wanted
            self.outbox.wake()

    def offer(self, notice: Notice) -> None:
        self.outbox.put(notice)

    # --- the connection ------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Keep a connection and publish until ``stop`` is set, then sign off."""
        watcher = asyncio.create_task(self._watch(stop))
        delay = self.retry_min
        try:
            while not stop.is_set():
                try:
                    await self._session()
                    delay = self.retry_min
                except (aiomqtt.MqttError, OSError, ssl.SSLError) as exc:
                    if stop.is_set():
                        break
                    log.warning(
                        "MQTT broker unreachable; retrying",
                        extra={
                            "host": self.cfg.host,
                            "port": self.cfg.port,
                            "error": str(exc),
                            "retry_in_s": delay,
                            "queued": len(self.outbox),
                        },
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    delay = min(delay * 2, self.retry_max)
        finally:
            watcher.cancel()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping = True
        self.outbox.wake()

    def _client(self) -> aiomqtt.Client:
        cfg = self.cfg
        return aiomqtt.Client(
            cfg.host,
            cfg.port,
            username=cfg.username,
            password=None if cfg.password is None else cfg.password.reveal(),
            identifier=f"porchlight-{self.device_id}",
            will=aiomqtt.Will(self.availability, NOT_AVAILABLE, qos=QOS, retain=True),
            keepalive=KEEPALIVE_SECONDS,
            timeout=PUBLISH_TIMEOUT_SECONDS,
            tls_context=tls_context(cfg),
        )

    async def _session(self) -> None:
        """One connection: announce, then publish the queue until stopping or an error."""
        client = self._client()
        try:
            await self._connected(client)
        finally:
            settle(client)

    async def _connected(self, client: aiomqtt.Client) -> None:
        async with client:
            self.connections += 1
            log.info(
                "connected to the MQTT broker",
                extra={"host": self.cfg.host, "port": self.cfg.port, "queued": len(self.outbox)},
            )
            # Ends (with MqttError) when the connection does: an idle sink notices a lost
            # broker at once, not at its next event, and comes back "online" by itself.
            self._subscribed = {}
            watching = asyncio.create_task(self._watch_connection(client))
            try:
                await client.publish(self.availability, AVAILABLE, qos=QOS, retain=True)
                self._announce_all = True
                while True:
                    if self._announce_all or self._announced != self._wanted:
                        await self._subscribe_doorbells(client)
                        await self._announce(client)
                    if self._stopping:
                        await self._sign_off(client)
                        return
                    notice = self.outbox.peek()
                    if notice is None:
                        await self._idle(watching)
                        continue
                    await self._publish(client, notice)
                    self.outbox.pop()
            finally:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await watching

    async def _idle(self, watching: asyncio.Task[None]) -> None:
        """Until something is queued or changed, or the connection is lost (raises)."""
        waiting = asyncio.create_task(self.outbox.wait())
        try:
            await asyncio.wait({waiting, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        if watching.done():
            watching.result()  # the MqttError that ended it
            raise aiomqtt.MqttError("connection to the broker ended")

    async def _watch_connection(self, client: aiomqtt.Client) -> None:
        """Doorbell presses that arrive; the iteration ends (raises) on a disconnect."""
        async for message in client.messages:
            current = self.doorbell_topics()  # a camera removed since: no press
            for pattern, camera in list(self._subscribed.items()):
                if message.topic.matches(pattern) and current.get(camera) == pattern:
                    self._press(camera)

    def _press(self, camera: str) -> None:
        """One press per camera per ``PRESS_GAP_SECONDS`` (buttons bounce, some bridges
        report press and release)."""
        now = time.monotonic()
        if now - self._last_press.get(camera, -PRESS_GAP_SECONDS) < PRESS_GAP_SECONDS:
            return
        self._last_press[camera] = now
        self.presses += 1
        if self.on_press is not None:
            self.on_press(camera)

    async def _subscribe_doorbells(self, client: aiomqtt.Client) -> None:
        """Subscribe to the cameras' ``doorbell_topic`` filters not subscribed yet. A filter
        under our own ``topic_prefix`` is refused: our own press messages would loop."""
        if self.on_press is None:
            return
        for camera, pattern in self.doorbell_topics().items():
            if pattern in self._subscribed:
                continue
            if pattern == self.cfg.topic_prefix or pattern.startswith(
                (f"{self.cfg.topic_prefix}/", "#", "+")
            ):
                log.warning(
                    "doorbell_topic ignored: it would match Porchlight's own messages",
                    extra={"camera": camera, "topic": pattern},
                )
                continue
            await client.subscribe(pattern, qos=QOS)
            self._subscribed[pattern] = camera
            log.info("listening for doorbell presses", extra={"camera": camera, "topic": pattern})

    async def _sign_off(self, client: aiomqtt.Client) -> None:
        """A clean stop: what is queued (briefly), then ``offline``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_SECONDS):
                while (notice := self.outbox.peek()) is not None:
                    await self._publish(client, notice)
                    self.outbox.pop()
        await client.publish(self.availability, NOT_AVAILABLE, qos=QOS, retain=True)
        log.info("signed off from the MQTT broker", extra={"unsent": len(self.outbox)})

    async def _announce(self, client: aiomqtt.Client) -> None:
        """Discovery configs for the wanted cameras, removal for gone ones, and the last
        retained states (motion starts ``OFF``: nothing is moving when a camera appears)."""
        wanted = self._wanted
        for camera in self._announced:
            if camera in wanted:
                continue
            for topic, _payload in discovery(self.cfg, self.device_id, self.version, camera):
                await client.publish(topic, b"", qos=QOS, retain=True)
            for state in ("motion", "connectivity"):
                topic = f"{self.cfg.topic_prefix}/{camera}/{state}"
                self._retained.pop(topic, None)
                await client.publish(topic, b"", qos=QOS, retain=True)
        fresh = (
            wanted if self._announce_all else tuple(c for c in wanted if c not in self._announced)
        )
        for camera in fresh:
            for topic, payload in discovery(self.cfg, self.device_id, self.version, camera):
                await client.publish(topic, json.dumps(payload), qos=QOS, retain=True)
            self._retained.setdefault(f"{self.cfg.topic_prefix}/{camera}/motion", "OFF")
        prefixes = tuple(f"{self.cfg.topic_prefix}/{camera}/" for camera in fresh)
        for topic, state in list(self._retained.items()):
            if topic.startswith(prefixes):
                await client.publish(topic, state, qos=QOS, retain=True)
        self._announced = wanted
        self._announce_all = False

    async def _publish(self, client: aiomqtt.Client, notice: Notice) -> None:
        base = f"{self.cfg.topic_prefix}/{notice.camera}"
        state: tuple[str, str] | None = None
        if notice.kind == "motion_start":
            state = (f"{base}/motion", "ON")
        elif notice.kind == "motion_end":
            state = (f"{base}/motion", "OFF")
        elif notice.kind == "camera_online":
            state = (f"{base}/connectivity", "ON")
        elif notice.kind == "camera_offline":
            state = (f"{base}/connectivity", "OFF")
        elif notice.kind == "doorbell":
            body = {"event_type": "press", **notice.as_json()}
            await client.publish(f"{base}/doorbell", json.dumps(body), qos=QOS)
        if state is not None:
            topic, value = state
            await client.publish(topic, value, qos=QOS, retain=True)
            self._retained[topic] = value
        await client.publish(f"{base}/events", json.dumps(notice.as_json()), qos=QOS)
        self.published += 1
