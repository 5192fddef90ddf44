"""The live event stream (``GET /api/v1/events/stream``) over a real uvicorn server on
127.0.0.1 (httpx's ASGITransport buffers a streaming body until it ends, so it cannot
show a stream that stays open): the message contract, the caller's cameras only,
heartbeats, and the stream ending on sign-out, on ``EventStreams.close()`` and when the
running service stops."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from nvr.auth.policy import Role
from nvr.clock import SystemClock
from nvr.config import parse_config_text
from nvr.events import EventBus, LiveEvent
from nvr.service.box import CLI_OWNER, Box
from nvr.service.runner import Ready, Service
from nvr.web.events import EventStreams
from tests.support.accounts import cookie, open_site, token_of
from tests.support.events import EventsKit

AT = datetime(2026, 3, 4, 10, 0, 0, 250000, tzinfo=UTC)
STREAM = "/api/v1/events/stream"
# A bound on waiting for something that should come at once; a hang fails the test.
PATIENCE = 10.0


@dataclass
class Server:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]


@asynccontextmanager
async def serving(kit: EventsKit, streams: EventStreams) -> AsyncIterator[Server]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        kit.app(streams),
        log_config=None,
        access_log=False,
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done(), "the server stopped during start-up"
            await asyncio.sleep(0.01)
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", server, task)
    finally:
        streams.close()
        server.should_exit = True
        await asyncio.wait_for(task, PATIENCE)
        sock.close()


class Reader:
    """Reads one SSE response: ``next()`` is the next message, ``(event, data)`` or
    ``("comment", text)`` for a block of comments only; ``None`` once the response ended."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self) -> tuple[str, str] | None:
        fields: dict[str, str] = {}
        while True:
            try:
                line = await asyncio.wait_for(anext(self.lines), PATIENCE)
            except StopAsyncIteration:
                return None
            if line == "":
                if "event" in fields or "data" in fields:
                    return fields.get("event", "message"), fields.get("data", "")
                if "comment" in fields:
                    return "comment", fields["comment"]
                continue
            if line.startswith(":"):
                fields["comment"] = line[1:].strip()
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    async def event(self) -> dict[str, str]:
        """The next ``camera-event``, skipping comments."""
        while True:
            message = await self.next()
            assert message is not None, "the stream ended"
            kind, data = message
            if kind == "camera-event":
                parsed: dict[str, str] = json.loads(data)
                return parsed

    async def ended(self) -> bool:
        """Whether the response ends within ``PATIENCE`` (after whatever comments it
        still sends: a stream that goes on sending heartbeats has not ended)."""
        try:
            async with asyncio.timeout(PATIENCE):
                while True:
                    message = await self.next()
                    if message is None:
                        return True
                    assert message[0] != "camera-event", message
        except TimeoutError:
            return False


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[EventsKit]:
    site = open_site(tmp_path)
    yield EventsKit(site)
    site.box.close()


@asynccontextmanager
async def stream(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> AsyncIterator[tuple[httpx.Response, Reader]]:
    async with http.stream("GET", STREAM, headers=headers) as response:
        reader = Reader(response)
        if response.status_code == 200:
            # The first message says the subscription is in place.
            assert await reader.next() == ("comment", "connected")
        yield response, reader


async def test_the_owner_receives_camera_events_as_they_are_published(
    kit: EventsKit,
) -> None:
    bus = EventBus()
    streams = EventStreams(bus)
    owner = kit.login(Role.OWNER).headers
    async with serving(kit, streams) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        async with stream(http, owner) as (response, reader):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            bus.publish(LiveEvent("porch", "motion", "start", AT, ("path",), 0.3))
            bus.publish(LiveEvent("garage", "doorbell", "instant", AT))
            assert await reader.event() == {
                "camera": "porch",
                "kind": "motion",
                "phase": "start",
                "at": "2026-03-04T10:00:00.250000Z",
            }
            assert await reader.event() == {
                "camera": "garage",
                "kind": "doorbell",
                "phase": "instant",
                "at": "2026-03-04T10:00:00.250000Z",
            }
            assert streams.open == 1
        anonymous = await http.get(STREAM)
        assert anonymous.status_code == 401


async def test_a_viewer_only_hears_the_cameras_they_may_see(kit: EventsKit) -> None:
    bus = EventBus()
    streams = EventStreams(bus)
    viewer = kit.login(Role.VIEWER).headers  # camera porch only
    async with serving(kit, streams) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        async with stream(http, viewer) as (response, reader):
            assert response.status_code == 200
            bus.publish(LiveEvent("garage", "doorbell", "instant", AT))
            bus.publish(LiveEvent("porch", "camera_motion", "instant", AT))
            assert (await reader.event())["camera"] == "porch"
        installer = kit.login(Role.INSTALLER).headers  # no install window
        r = await http.get(STREAM, headers=installer)
        assert r.status_code == 403


async def test_heartbeats_keep_an_idle_stream_talking(kit: EventsKit) -> None:
    streams = EventStreams(EventBus(), heartbeat=0.05)
    owner = kit.login(Role.OWNER).headers
    async with (
        serving(kit, streams) as srv,
        httpx.AsyncClient(base_url=srv.url) as http,
        stream(http, owner) as (_, reader),
    ):
        assert await reader.next() == ("comment", "heartbeat")
        assert await reader.next() == ("comment", "heartbeat")


async def test_the_stream_ends_when_its_session_signs_out(kit: EventsKit) -> None:
    bus = EventBus()
    streams = EventStreams(bus, session_check=0.05)
    owner = kit.login(Role.OWNER).headers
    other = kit.login(Role.OWNER).headers
    async with (
        serving(kit, streams) as srv,
        httpx.AsyncClient(base_url=srv.url) as http,
        stream(http, owner) as (_, mine),
        stream(http, other) as (_, theirs),
    ):
        r = await http.delete("/api/v1/session", headers=owner)
        assert r.status_code == 204
        assert await mine.ended()
        # The other session's stream goes on.
        bus.publish(LiveEvent("porch", "doorbell", "instant", AT))
        assert (await theirs.event())["camera"] == "porch"
        assert streams.open == 1


async def test_an_open_stream_does_not_keep_an_idle_session_alive(kit: EventsKit) -> None:
    streams = EventStreams(EventBus(), heartbeat=0.02, session_check=0.02)
    owner = kit.login(Role.OWNER).headers
    async with serving(kit, streams) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        async with stream(http, owner) as (_, reader):
            half = kit.site.accounts.sessions.idle_timeout.total_seconds() / 2
            kit.site.clock.advance(half)
            # Heartbeats after the advance: the session was looked at, and not refreshed...
            assert await reader.next() == ("comment", "heartbeat")
            assert await reader.next() == ("comment", "heartbeat")
            kit.site.clock.advance(half)
            # ...so it is idle from the last request on, and the stream ends.
            assert await reader.ended()
        r = await http.get("/api/v1/session", headers=owner)
        assert r.status_code == 401


async def test_close_ends_every_stream_and_the_server_stops(kit: EventsKit) -> None:
    bus = EventBus()
    streams = EventStreams(bus)
    owner = kit.login(Role.OWNER).headers
    async with serving(kit, streams) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        async with stream(http, owner) as (_, first), stream(http, owner) as (_, second):
            streams.close()
            assert await first.ended()
            assert await second.ended()
            assert streams.open == 0
            assert bus.subscribers == 0
        # A stream asked for after close ends at once.
        r = await http.get(STREAM, headers=owner)
        assert (r.status_code, r.text) == (200, "")


def _make_keys(box: Box) -> None:
    box.create_owner_keys(b"willow-Harbor-64-calmly", 15, CLI_OWNER)


async def test_stopping_the_service_ends_open_streams(tmp_path: Path) -> None:
    """The running service: an owner signs in over HTTPS, opens the stream, hears an event
    published on ``Service.events_bus``; stopping the service ends the stream and ``run``
    returns (uvicorn would otherwise wait for the open response forever)."""
    cfg = parse_config_text("server: {bind: 127.0.0.1}\ndemo: {enabled: 'off'}\n", "nvr.yaml")
    cfg = cfg.model_copy(
        update={
            "server": cfg.server.model_copy(update={"port": 0}),
            "storage": cfg.storage.model_copy(update={"data_dir": tmp_path / "data"}),
        }
    )
    started: list[Ready] = []
    service = Service(cfg, clock=SystemClock(), on_ready=started.append, on_box=_make_keys)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        while not started:
            assert not running.done(), running
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=started[0].url, verify=False) as http:  # noqa: S501 (the box's self-signed certificate)
            login = await http.post(
                "/api/v1/session", json={"name": "owner", "password": "willow-Harbor-64-calmly"}
            )
            assert login.status_code == 200, login.text
            headers = cookie(token_of(login))
            async with stream(http, headers) as (response, reader):
                assert response.status_code == 200
                service.events_bus.publish(LiveEvent("porch", "doorbell", "instant", AT))
                assert (await reader.event())["kind"] == "doorbell"
                stop.set()
                assert await reader.ended()
        # The client has closed its connection (a TLS close waits for the peer's answer).
        await asyncio.wait_for(running, PATIENCE * 3)
    finally:
        stop.set()
        await asyncio.wait_for(running, PATIENCE * 3)
