"""Signed webhooks to a real HTTP receiver on 127.0.0.1.

The receiver checks the signature with its own HMAC code (not Porchlight's), answers
with a scripted sequence of statuses, and records what it got.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nvr.config import WebhookConfig
from nvr.notify import Notice
from nvr.notify.webhooks import WebhookSink, webhook_event

SECRET = "s3cret-shared-with-the-receiver-0123456789"
T0 = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def verifies(self, secret: str) -> bool:
        timestamp = self.headers["X-Porchlight-Timestamp"]
        mac = hmac.new(secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256)
        return hmac.compare_digest(
            self.headers["X-Porchlight-Signature"], "sha256=" + mac.hexdigest()
        )


@dataclass
class Receiver:
    port: int
    statuses: list[int] = field(default_factory=list)  # answered in order; then 204
    got: list[Received] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.got.append(Received(dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def hook(port: int, **changes: Any) -> WebhookConfig:
    return WebhookConfig.model_validate(
        {
            "name": "ha",
            "url": f"http://127.0.0.1:{port}/api/webhook/porchlight?x=1",
            "secret": SECRET,
            "events": ["doorbell", "camera_offline"],
        }
        | changes
    )


async def deliver(sink: WebhookSink, *notices: Notice) -> None:
    """Run the sink until every notice it wants was delivered or given up."""
    wanted = [n for n in notices if webhook_event(n) in sink.hook.events]
    stop = asyncio.Event()
    task = asyncio.create_task(sink.run(stop))
    for notice in notices:
        sink.offer(notice)
    try:
        async with asyncio.timeout(60):
            while sink.delivered + sink.failed < len(wanted):
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await task


async def test_a_press_is_posted_signed_and_the_receiver_verifies_it(
    receiver: Receiver,
) -> None:
    sink = WebhookSink(hook(receiver.port), "box123", "9.9")
    press = Notice("front", "doorbell", T0)
    await deliver(sink, Notice("front", "motion_start", T0), press)  # motion: not wanted

    (got,) = receiver.got
    assert got.verifies(SECRET)
    assert not got.verifies(SECRET + "x")
    assert got.headers["X-Porchlight-Event"] == "doorbell"
    assert got.headers["Content-Type"] == "application/json"
    assert abs(int(got.headers["X-Porchlight-Timestamp"]) - time.time()) < 300
    body = json.loads(got.body)
    assert body == {
        "event": "doorbell",
        "id": press.id,
        "camera": "front",
        "kind": "doorbell",
        "at": "2026-11-28T03:00:00Z",
        "box": "box123",
    }
    assert sink.delivered == 1


async def test_a_500_is_retried_with_a_fresh_signature(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    sink = WebhookSink(hook(receiver.port), "box123", "9.9", retry_min=0.01)
    await deliver(sink, Notice("front", "camera_offline", T0))
    assert len(receiver.got) == 3
    assert all(r.verifies(SECRET) for r in receiver.got)
    assert len({json.loads(r.body)["id"] for r in receiver.got}) == 1  # one notice, 3 tries
    assert (sink.delivered, sink.failed) == (1, 0)


async def test_retries_are_bounded_and_the_secret_is_never_logged(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500] * 10
    sink = WebhookSink(hook(receiver.port), "box123", "9.9", retry_min=0.01, attempts=3)
    with caplog.at_level(logging.DEBUG):
        await deliver(sink, Notice("front", "doorbell", T0))
    assert len(receiver.got) == 3
    assert (sink.delivered, sink.failed) == (0, 1)
    assert any("given up" in r.getMessage() for r in caplog.records)
    logged = caplog.text + "".join(str(vars(r)) for r in caplog.records)
    assert SECRET not in logged


async def test_a_4xx_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [400]
    sink = WebhookSink(hook(receiver.port), "box123", "9.9", retry_min=0.01)
    await deliver(sink, Notice("front", "doorbell", T0))
    assert len(receiver.got) == 1
    assert (sink.delivered, sink.failed) == (0, 1)


async def test_a_connection_error_is_retried_then_given_up() -> None:
    with socket.socket() as sock:  # a port nobody listens on (bound, not listening)
        sock.bind(("127.0.0.1", 0))
        sink = WebhookSink(hook(sock.getsockname()[1]), "box123", "9.9", retry_min=0.01, attempts=2)
        await deliver(sink, Notice("front", "doorbell", T0))
    assert (sink.delivered, sink.failed) == (0, 1)


async def test_a_name_that_resolves_outside_the_house_is_not_sent_to(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``allow_public: false`` (the default): the check runs before each request."""

    def public(host: str, port: int, **kw: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(socket, "getaddrinfo", public)
    sink = WebhookSink(
        hook(receiver.port, url=f"http://hooks.example:{receiver.port}/x"), "b", "9.9"
    )
    await deliver(sink, Notice("front", "doorbell", T0))
    assert receiver.got == []
    assert (sink.delivered, sink.failed) == (0, 1)  # and not retried: it would not change
