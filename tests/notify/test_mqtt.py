"""MQTT with Home Assistant discovery, against a real mosquitto on 127.0.0.1.

The discovery schemas below are written for these tests from Home Assistant's documented
MQTT discovery options for the ``binary_sensor`` and ``event`` platforms (required keys,
allowed keys and their types, the device and availability blocks); unknown keys are
refused, so a typo in a key name fails here rather than being ignored by Home Assistant.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema_rs
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nvr.config import MqttConfig
from nvr.events import EventBus, LiveEvent
from nvr.notify import Notifier
from nvr.notify.mqtt import MqttSink, discovery, tls_context
from nvr.service.status import CameraStatus
from tests.support.mosquitto import Broker, Listener
from tests.support.procs import ProcessRegistry

REPO = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)

# --- Home Assistant's MQTT discovery options, as JSON Schema ----------------------------

_STR = {"type": "string"}
_TEMPLATE = _STR
_AVAILABILITY_ITEM = {
    "type": "object",
    "required": ["topic"],
    "additionalProperties": False,
    "properties": {
        "topic": _STR,
        "payload_available": _STR,
        "payload_not_available": _STR,
        "value_template": _TEMPLATE,
    },
}
_DEVICE = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["identifiers"]}, {"required": ["connections"]}],
    "properties": {
        "identifiers": {"oneOf": [_STR, {"type": "array", "items": _STR, "minItems": 1}]},
        "connections": {
            "type": "array",
            "items": {"type": "array", "items": _STR, "minItems": 2, "maxItems": 2},
        },
        "name": _STR,
        "manufacturer": _STR,
        "model": _STR,
        "model_id": _STR,
        "sw_version": _STR,
        "hw_version": _STR,
        "serial_number": _STR,
        "suggested_area": _STR,
        "configuration_url": _STR,
        "via_device": _STR,
    },
}
_ORIGIN = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": _STR, "sw_version": _STR, "support_url": _STR},
}
_ENTITY = {
    "availability": {"type": "array", "items": _AVAILABILITY_ITEM, "minItems": 1},
    "availability_mode": {"enum": ["all", "any", "latest"]},
    "availability_template": _TEMPLATE,
    "availability_topic": _STR,
    "payload_available": _STR,
    "payload_not_available": _STR,
    "device": _DEVICE,
    "origin": _ORIGIN,
    "enabled_by_default": {"type": "boolean"},
    "encoding": _STR,
    "entity_category": {"enum": ["config", "diagnostic"]},
    "entity_picture": _STR,
    "icon": _STR,
    "json_attributes_template": _TEMPLATE,
    "json_attributes_topic": _STR,
    "name": {"type": ["string", "null"]},
    "object_id": _STR,
    "default_entity_id": _STR,
    "platform": _STR,
    "qos": {"enum": [0, 1, 2]},
    "unique_id": _STR,
    "value_template": _TEMPLATE,
}
_COMMON_RULES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    # One way of saying availability, and a device only with a unique id.
    "not": {"required": ["availability", "availability_topic"]},
    "dependentRequired": {"device": ["unique_id"]},
}
BINARY_SENSOR_CLASSES = [
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
    "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
    "smoke", "sound", "tamper", "update", "vibration", "window",
]  # fmt: skip
BINARY_SENSOR = {
    **_COMMON_RULES,
    "required": ["state_topic"],
    "properties": {
        **_ENTITY,
        "state_topic": _STR,
        "device_class": {"enum": BINARY_SENSOR_CLASSES},
        "expire_after": {"type": "integer", "minimum": 0},
        "force_update": {"type": "boolean"},
        "off_delay": {"type": "integer", "minimum": 0},
        "payload_off": _STR,
        "payload_on": _STR,
    },
}
EVENT = {
    **_COMMON_RULES,
    "required": ["state_topic", "event_types"],
    "properties": {
        **_ENTITY,
        "state_topic": _STR,
        "event_types": {"type": "array", "items": _STR, "minItems": 1},
        "device_class": {"enum": ["button", "doorbell", "motion"]},
    },
}
SCHEMAS = {"binary_sensor": BINARY_SENSOR, "event": EVENT}
DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(?P<platform>binary_sensor|event)/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+/config$"
)


def check_discovery(topic: str, payload: dict[str, Any]) -> str:
    """Validate one discovery message; returns its platform."""
    match = DISCOVERY_TOPIC.match(topic)
    assert match is not None, topic
    platform = match["platform"]
    jsonschema_rs.validator_for(SCHEMAS[platform]).validate(payload)
    return platform


# --- helpers ---------------------------------------------------------------------------


def config(broker: Broker, **changes: Any) -> MqttConfig:
    return MqttConfig.model_validate(
        {"enabled": True, "host": broker.host, "port": broker.port} | changes
    )


def statuses(*cameras: tuple[str, str]) -> list[CameraStatus]:
    return [CameraStatus(name=name, state=state) for name, state in cameras]


class Running:
    """A notifier with one MQTT sink on its own task, stopped for sure."""

    def __init__(self, sink: MqttSink, bus: EventBus, cams: Sequence[CameraStatus]) -> None:
        self.sink = sink
        self.bus = bus
        self.cams = list(cams)
        self.stop = asyncio.Event()
        self.notifier = Notifier(bus, lambda: self.cams, [sink], poll_seconds=0.05)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.notifier.run(self.stop))
        await self.notifier.listening.wait()  # the bus is live: earlier events are gone
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        async with asyncio.timeout(30):
            await self.task


@pytest.fixture
async def listener(mosquitto: Broker) -> AsyncIterator[Listener]:
    async with Listener(mosquitto) as listening:
        yield listening


# --- discovery -------------------------------------------------------------------------


def test_discovery_schemas_refuse_what_home_assistant_would() -> None:
    """The schemas are not vacuous: a missing required key or an unknown key fails."""
    cfg = MqttConfig(enabled=True)
    (_, motion), _, (_, doorbell) = discovery(cfg, "abcd", "1.0", "front")
    check_discovery("homeassistant/binary_sensor/n/front_motion/config", motion)
    for broken in (
        {k: v for k, v in motion.items() if k != "state_topic"},
        motion | {"stat_topic": "x"},
        motion | {"device_class": "doorbell"},
        motion | {"availability_topic": "x"},
        {k: v for k, v in motion.items() if k != "unique_id"},
    ):
        with pytest.raises(jsonschema_rs.ValidationError):
            check_discovery("homeassistant/binary_sensor/n/front_motion/config", broken)
    with pytest.raises(jsonschema_rs.ValidationError):
        check_discovery(
            "homeassistant/event/n/front_doorbell/config",
            {k: v for k, v in doorbell.items() if k != "event_types"},
        )


async def test_discovery_is_retained_and_valid_and_events_arrive(
    mosquitto: Broker, listener: Listener
) -> None:
    bus = EventBus()
    sink = MqttSink(config(mosquitto), "abcd1234", "9.9")
    async with Running(sink, bus, statuses(("front", "online"), ("back", "connecting"))):
        await listener.wait_for("porchlight/availability", b"online")
        await listener.wait_for("porchlight/front/connectivity", b"ON")
        await listener.wait_for("homeassistant/event/porchlight_abcd1234/back_doorbell/config")
        mark = len(listener.messages)
        bus.publish(LiveEvent("front", "motion", "start", T0))
        bus.publish(LiveEvent("front", "motion", "end", T0, ("porch",), 0.4))
        bus.publish(LiveEvent("front", "doorbell", "instant", T0))
        await listener.wait_for("porchlight/front/motion", b"ON", after=mark)
        await listener.wait_for("porchlight/front/motion", b"OFF", after=mark)
        press = await listener.wait_for("porchlight/front/doorbell", after=mark)
    await listener.wait_for("porchlight/availability", b"offline")

    assert press.json()["event_type"] == "press"
    assert press.json()["camera"] == "front"
    assert not press.retain
    motion_states = [m.payload for m in listener.on("porchlight/front/motion")]
    assert motion_states[-2:] == [b"ON", b"OFF"]
    ended = [m.json() for m in listener.on("porchlight/front/events")]
    assert {"kind": "motion_end", "zones": ["porch"], "score": 0.4}.items() <= ended[-2].items()

    configs = [m for m in listener.messages if m.topic.startswith("homeassistant/")]
    platforms = sorted(check_discovery(m.topic, m.json()) for m in configs)
    assert platforms == ["binary_sensor"] * 4 + ["event"] * 2  # two cameras, three each
    classes = {(m.topic.split("/")[1], m.json()["device_class"]) for m in configs}
    assert classes == {
        ("binary_sensor", "motion"),
        ("binary_sensor", "connectivity"),
        ("event", "doorbell"),
    }
    # Nothing but text and JSON state went out: no image, no clip, no URL.
    assert all(len(m.payload) < 2048 for m in listener.messages)
    assert not any(b"http" in m.payload for m in listener.messages if m.topic.endswith("/events"))

    # Retained: a newcomer (Home Assistant starting later) gets the configs and states.
    async with Listener(mosquitto, identifier="late-listener") as late:
        await late.wait_for("homeassistant/binary_sensor/porchlight_abcd1234/front_motion/config")
        await late.wait_for("porchlight/front/motion", b"OFF")
        await late.wait_for("porchlight/availability", b"offline")


async def test_a_removed_camera_is_removed_from_home_assistant(
    mosquitto: Broker, listener: Listener
) -> None:
    bus = EventBus()
    sink = MqttSink(config(mosquitto), "abcd1234", "9.9")
    running = Running(sink, bus, statuses(("front", "online"), ("back", "online")))
    topic = "homeassistant/binary_sensor/porchlight_abcd1234/back_motion/config"
    async with running:
        await listener.wait_for(topic)
        running.cams = statuses(("front", "online"))
        await listener.wait_for(topic, b"")
    async with Listener(mosquitto, identifier="late-listener") as late:
        await late.wait_for("porchlight/availability", b"offline")
        assert late.on(topic) == []  # the empty retained config cleared it


async def test_camera_going_offline_turns_its_connectivity_off(
    mosquitto: Broker, listener: Listener
) -> None:
    bus = EventBus()
    sink = MqttSink(config(mosquitto), "abcd1234", "9.9")
    running = Running(sink, bus, statuses(("front", "online")))
    async with running:
        await listener.wait_for("porchlight/front/connectivity", b"ON")
        running.cams = statuses(("front", "offline"))
        await listener.wait_for("porchlight/front/connectivity", b"OFF")
        running.cams = statuses(("front", "online"))
        mark = len(listener.messages)
        await listener.wait_for("porchlight/front/connectivity", b"ON", after=mark)


# --- inbound: a bell button on MQTT ------------------------------------------------------


async def test_a_message_on_a_doorbell_topic_is_a_press(mosquitto: Broker) -> None:
    pressed: list[str] = []
    topics = {"front": "zigbee2mqtt/bell/action", "back": "bells/+/pressed", "loop": "porchlight/x"}
    sink = MqttSink(
        config(mosquitto),
        "abcd1234",
        "9.9",
        doorbell_topics=lambda: topics,
        on_press=pressed.append,
    )
    async with Running(sink, EventBus(), statuses(("front", "online"))):
        async with asyncio.timeout(30):
            while len(sink._subscribed) < 2:
                await asyncio.sleep(0.01)
        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as button:
            await button.publish("zigbee2mqtt/other/action", b"single", qos=1)
            await button.publish("porchlight/x", b"1", qos=1)
            await button.publish("zigbee2mqtt/bell/action", b"single", qos=1)
            await button.publish("bells/garden/pressed", b"", qos=1)
            async with asyncio.timeout(30):
                while len(pressed) < 2:
                    await asyncio.sleep(0.01)
    assert pressed == ["front", "back"]  # in order; the other topics pressed nothing
    assert sink.presses == 2
    assert "porchlight/x" not in sink._subscribed  # under our own prefix: would loop


def test_a_bouncing_button_is_one_press(monkeypatch: pytest.MonkeyPatch) -> None:
    pressed: list[str] = []
    sink = MqttSink(MqttConfig(enabled=True), "abcd", "9.9", on_press=pressed.append)
    for now in (100.0, 100.4, 100.9, 101.2, 101.5):
        monkeypatch.setattr(time, "monotonic", lambda now=now: now)
        sink._press("front")
    monkeypatch.setattr(time, "monotonic", lambda: 101.5)
    sink._press("back")  # another camera: its own gap
    assert pressed == ["front", "front", "back"]  # at 100.0 and 101.2 (gap 1 s)


# --- availability: the last will -------------------------------------------------------

CHILD = """
import asyncio, sys
from nvr.config import MqttConfig
from nvr.notify.mqtt import MqttSink

async def main() -> None:
    cfg = MqttConfig(enabled=True, host="127.0.0.1", port=int(sys.argv[1]))
    sink = MqttSink(cfg, "child", "9.9")
    sink.cameras(["front"])
    print("running", flush=True)
    await sink.run(asyncio.Event())

asyncio.run(main())
"""


async def test_the_will_marks_porchlight_offline_when_the_process_dies(
    mosquitto: Broker, listener: Listener, process_registry: ProcessRegistry, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    child = process_registry.start(
        [sys.executable, "-c", CHILD, str(mosquitto.port)], log_path=tmp_path / "child.log", env=env
    )
    try:
        child.wait_for_line("running", timeout=60)
        await listener.wait_for("porchlight/availability", b"online")
        mark = len(listener.messages)
        child.kill()  # no clean sign-off possible: only the broker can say it
        will = await listener.wait_for("porchlight/availability", b"offline", after=mark)
    finally:
        child.stop()
    assert will.payload == b"offline"


# --- reconnecting ----------------------------------------------------------------------


async def test_a_broker_restart_loses_no_event(mosquitto: Broker, listener: Listener) -> None:
    bus = EventBus()
    sink = MqttSink(config(mosquitto), "abcd1234", "9.9", retry_min=0.05, retry_max=0.5)
    async with Running(sink, bus, statuses(("front", "online"))):
        await listener.wait_for("porchlight/availability", b"online")
        mosquitto.stop()
        # While the broker is down: a press and a whole motion event.
        bus.publish(LiveEvent("front", "doorbell", "instant", T0))
        bus.publish(LiveEvent("front", "motion", "start", T0))
        bus.publish(LiveEvent("front", "motion", "end", T0 + dt.timedelta(seconds=5)))
        await asyncio.sleep(0)
        mark = len(listener.messages)
        mosquitto.start()
        press = await listener.wait_for("porchlight/front/doorbell", after=mark)
        await listener.wait_for("porchlight/front/motion", b"ON", after=mark)
        await listener.wait_for("porchlight/front/motion", b"OFF", after=mark)
        assert sink.connections >= 2
    assert press.json()["at"] == "2026-11-28T03:00:00Z"
    kinds = [m.json()["kind"] for m in listener.messages[mark:] if m.topic.endswith("/events")]
    assert [k for k in kinds if k != "camera_online"][:3] == [
        "doorbell",
        "motion_start",
        "motion_end",
    ]
    assert sink.outbox.dropped == 0


async def test_an_idle_sink_notices_a_broker_restart_and_comes_back_online(
    mosquitto: Broker, listener: Listener
) -> None:
    """No event to publish: the lost connection itself makes it reconnect and announce."""
    bus = EventBus()
    sink = MqttSink(config(mosquitto), "abcd1234", "9.9", retry_min=0.05, retry_max=0.5)
    async with Running(sink, bus, statuses(("front", "online"))):
        await listener.wait_for("porchlight/availability", b"online")
        assert sink.connections == 1
        mosquitto.restart()
        async with asyncio.timeout(30):
            while sink.connections < 2:
                await asyncio.sleep(0.01)
        assert sink.published == 1  # camera_online only: nothing was waiting to go out


async def test_a_full_queue_drops_the_oldest_counts_and_logs(
    idle_broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """Broker away longer than the queue lasts: the newest ``queue_size`` survive."""
    bus = EventBus()
    sink = MqttSink(config(idle_broker, queue_size=10), "abcd1234", "9.9", retry_min=0.05)
    with caplog.at_level(logging.WARNING, logger="nvr.notify.notice"):
        async with Running(sink, bus, []):
            for second in range(15):
                bus.publish(LiveEvent("front", "doorbell", "instant", T0.replace(second=second)))
            async with asyncio.timeout(30):
                while len(sink.outbox) + sink.outbox.dropped < 15:
                    await asyncio.sleep(0.01)
            assert sink.outbox.dropped == 5
            idle_broker.start()
            async with Listener(idle_broker) as listening:
                await listening.wait_for(
                    "porchlight/front/doorbell",
                    where=lambda m: m.json()["at"] == "2026-11-28T03:00:14Z",
                )
                presses = [m.json()["at"] for m in listening.on("porchlight/front/doorbell")]
    assert presses[0] == "2026-11-28T03:00:05Z"
    assert len(presses) == 10
    drops = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(drops) == 1  # the first drop of a spell is logged, not every one


# --- TLS and credentials ---------------------------------------------------------------


def _pki(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A test CA and a broker certificate for 127.0.0.1 signed by it (PEM files)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Porchlight test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp_path / "ca.pem", tmp_path / "broker.pem", tmp_path / "broker.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths[2].chmod(0o600)
    return paths


async def test_tls_to_the_broker_with_the_owners_ca(idle_broker: Broker, tmp_path: Path) -> None:
    ca, cert, key = _pki(tmp_path)
    idle_broker.tls(ca, cert, key)
    idle_broker.start()
    trusted = config(idle_broker, tls={"enabled": True, "ca_file": str(ca)})
    context = tls_context(trusted)
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED

    # Without the owner's CA the broker's certificate is refused: nothing is sent in clear
    # or to an unverified broker.
    untrusted = tls_context(config(idle_broker, tls=True))
    assert untrusted is not None
    with (
        socket.create_connection((idle_broker.host, idle_broker.port)) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusted.wrap_socket(raw, server_hostname=idle_broker.host)

    bus = EventBus()
    sink = MqttSink(trusted, "abcd1234", "9.9")
    async with (
        Listener(idle_broker, tls_context=tls_context(trusted)) as listening,
        Running(sink, bus, statuses(("front", "online"))),
    ):
        await listening.wait_for("porchlight/availability", b"online")
        bus.publish(LiveEvent("front", "doorbell", "instant", T0))
        press = await listening.wait_for("porchlight/front/doorbell")
    assert json.loads(press.payload)["event_type"] == "press"
