"""A real MQTT broker for the notification tests: Debian's ``mosquitto`` on 127.0.0.1.

Contract:

- ``mosquitto`` (fixture) starts ``/usr/sbin/mosquitto`` on 127.0.0.1 and a free port, with
  persistence on (so ``restart()`` keeps persistent sessions and their queued messages, as
  a broker restart does in a house) and anonymous access; ``broker.stop()`` and
  ``broker.start()`` (or ``restart()``) keep the port. Stopped and reaped at the end.
- ``Broker.tls(ca, cert, key)`` before ``start()`` adds TLS to the listener (PEM paths).
- Readiness is the broker's own "running" log line (polled in its log file).
- ``Listener(broker)`` is an async test subscriber (a persistent session that rides out
  broker restarts) with ``wait_for(topic, payload)``.
- ``mqtt_required()`` skips (fails in CI) when the Debian package is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from nvr.notify.mqtt import settle
from tests.support.procs import ManagedProcess, ProcessRegistry, ProcessStartError, require

MOSQUITTO = "/usr/sbin/mosquitto"


def mqtt_required() -> None:
    require(
        None
        if Path(MOSQUITTO).exists() or shutil.which("mosquitto")
        else "needs Debian's mosquitto (apt-get install mosquitto)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Broker:
    """One mosquitto, restartable on the same port; see the module docstring."""

    def __init__(self, registry: ProcessRegistry, workdir: Path) -> None:
        self.registry = registry
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.process: ManagedProcess | None = None
        self.starts = 0
        self._tls: tuple[Path, Path, Path] | None = None

    def tls(self, ca: Path, cert: Path, key: Path) -> None:
        self._tls = (ca, cert, key)

    def _config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        lines = [
            "user root",
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {data}/",
            "log_dest stderr",  # unbuffered, into the log file
            "log_timestamp false",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages false",
        ]
        if self._tls is not None:
            ca, cert, key = self._tls
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
        path = self.workdir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        mqtt_required()
        assert self.process is None or self.process.done, "already running"
        binary = MOSQUITTO if Path(MOSQUITTO).exists() else "mosquitto"
        self.starts += 1
        self.process = self.registry.start(
            [binary, "-c", str(self._config())],
            log_path=self.workdir / f"mosquitto-{self.starts}.log",
        )
        self._wait_running(self.process, timeout=30.0)

    @staticmethod
    def _wait_running(process: ManagedProcess, timeout: float) -> None:
        """Until the broker logs that it runs (its log is stderr, unbuffered, in a file;
        stdout would be block-buffered in a pipe)."""
        deadline = time.monotonic() + timeout
        while "running" not in process.log_path.read_text(errors="replace"):
            if not process.running or time.monotonic() > deadline:
                process.stop()
                raise ProcessStartError(f"mosquitto did not start:\n{process.log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """SIGTERM: the broker saves its persistent sessions, as a clean restart does."""
        if self.process is not None:
            self.process.stop(grace=10.0)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def mosquitto(process_registry: ProcessRegistry, tmp_path: Path) -> Iterator[Broker]:
    """A started broker on 127.0.0.1 (see the module docstring)."""
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Broker(process_registry, workdir)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def idle_broker(process_registry: ProcessRegistry, tmp_path: Path) -> Iterator[Broker]:
    """A broker not started yet (configure TLS first, then ``start()``)."""
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Broker(process_registry, workdir)
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Listener:
    """A test subscriber (what Home Assistant would be): a persistent session
    (``clean_session=False``, QoS 1), so messages the broker queued for it while it was away
    arrive when it comes back; it reconnects by itself after a broker restart.

    ``async with Listener(broker) as listener: await listener.wait_for(topic=..., ...)``.
    """

    def __init__(
        self,
        broker: Broker,
        topics: tuple[str, ...] = ("#",),
        identifier: str = "test-listener",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.broker = broker
        self.topics = topics
        self.identifier = identifier
        self.tls_context = tls_context
        self.messages: list[Message] = []
        self.subscribed = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Listener:
        self._task = asyncio.create_task(self._run())
        async with asyncio.timeout(30):
            await self.subscribed.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            client = aiomqtt.Client(
                self.broker.host,
                self.broker.port,
                identifier=self.identifier,
                clean_session=False,
                tls_context=self.tls_context,
            )
            try:
                async with client:
                    for topic in self.topics:
                        await client.subscribe(topic, qos=1)
                    self.subscribed.set()
                    async for msg in client.messages:
                        payload = msg.payload
                        raw = (
                            bytes(payload)
                            if isinstance(payload, bytes | bytearray)
                            else str(payload or "").encode()
                        )
                        self.messages.append(Message(str(msg.topic), raw, bool(msg.retain)))
                        self._changed.set()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)  # the broker is restarting: try again
            finally:
                settle(client)

    async def wait_for(
        self,
        topic: str,
        payload: bytes | None = None,
        *,
        after: int = 0,
        timeout: float = 30.0,
        where: Callable[[Message], bool] | None = None,
    ) -> Message:
        """The first message (from index ``after``) on ``topic`` [with ``payload``]."""

        def match(m: Message) -> bool:
            return (
                m.topic == topic
                and (payload is None or m.payload == payload)
                and (where is None or where(m))
            )

        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages[after:]:
                    if match(message):
                        return message
                self._changed.clear()
                await self._changed.wait()

    def on(self, topic: str) -> list[Message]:
        return [m for m in self.messages if m.topic == topic]
