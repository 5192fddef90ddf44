"""The signed doorbell webhook: who may press, what is refused and how, what is recorded."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from nvr.audit.entry import Actor
from nvr.clock import FakeClock
from nvr.secrets import Secret
from nvr.service.status import ServiceStatus
from nvr.web.app import create_app
from nvr.web.doorbell import (
    MAX_BODY,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayCache,
    Throttle,
    doorbell_router,
    sign,
)

START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NOW = int(START.timestamp())
SECRET = "Front-Door-Bell-Secret-0123456789abcdef"
SECRETS = {"front": Secret(SECRET)}
URL = "/api/v1/cameras/front/doorbell"
INVALID = {"error": "invalid signature"}


class Bell:
    """The app with a doorbell router, and everything the router told the outside."""

    def __init__(self) -> None:
        self.clock = FakeClock(START)
        self.presses: list[tuple[str, datetime]] = []
        self.audited: list[tuple[str, dict[str, Any], Actor]] = []
        router = doorbell_router(
            SECRETS.get,
            lambda camera, when: self.presses.append((camera, when)),
            self.clock,
            audit=lambda kind, payload, actor: self.audited.append((kind, payload, actor)),
        )
        self.app = create_app(status=_status, doorbell=router)
        self.seen = ""  # every response, for the leak check

    async def post(
        self,
        url: str = URL,
        *,
        body: bytes = b"{}",
        ts: int | str | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
        client: str = "192.0.2.50",
    ) -> httpx.Response:
        ts = NOW if ts is None else ts
        if headers is None:
            headers = {
                TIMESTAMP_HEADER: str(ts),
                SIGNATURE_HEADER: signature or sign(SECRET, ts, body),
            }
        transport = httpx.ASGITransport(app=self.app, client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="https://box.test") as http:
            r = await http.post(url, content=body, headers=headers)
        self.seen += f"{r.status_code} {r.headers} {r.text}\n"
        return r


def _status() -> ServiceStatus:
    return ServiceStatus(version="0", started_at=START, uptime_seconds=0.0, tls_fingerprint=None)


@pytest.fixture
def bell() -> Bell:
    return Bell()


async def test_a_signed_press_from_the_lan_is_accepted(
    bell: Bell, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="nvr.web.doorbell"):
        r = await bell.post()
    assert r.status_code == 204
    assert r.content == b""
    assert bell.presses == [("front", START)]
    assert bell.audited == []
    assert "doorbell press" in caplog.messages


@pytest.mark.parametrize("body", [b"", b"{}", b'{"button": 1}', b"x" * MAX_BODY])
async def test_empty_or_small_bodies(bell: Bell, body: bytes) -> None:
    assert (await bell.post(body=body)).status_code == 204
    assert len(bell.presses) == 1


async def test_upper_case_hex_is_the_same_signature(bell: Bell) -> None:
    signature = sign(SECRET, NOW, b"{}")
    assert (await bell.post(signature="sha256=" + signature[7:].upper())).status_code == 204
    r = await bell.post(signature=signature)
    assert (r.status_code, r.json()) == (401, {"error": "replayed request"})
    assert len(bell.presses) == 1


@pytest.mark.parametrize(
    ("url", "camera", "reason"),
    [
        (URL, "front", "bad signature"),
        ("/api/v1/cameras/back/doorbell", "back", "unknown camera or no webhook"),
        ("/api/v1/cameras/no%20such/doorbell", "no such", "unknown camera or no webhook"),
    ],
)
async def test_wrong_signature_and_unknown_camera_look_the_same(
    bell: Bell, url: str, camera: str, reason: str
) -> None:
    wrong = sign("another-secret-of-the-same-length-0123456", NOW, b"{}")
    r = await bell.post(url, signature=wrong)
    assert (r.status_code, r.json()) == (401, INVALID)
    assert bell.presses == []
    ((kind, payload, actor),) = bell.audited
    assert kind == "doorbell.rejected"
    assert payload == {"camera": camera, "reason": reason, "client": "192.0.2.50"}
    assert actor.role == "anonymous"


async def test_a_valid_signature_for_an_unknown_camera_is_refused(bell: Bell) -> None:
    r = await bell.post("/api/v1/cameras/back/doorbell")
    assert (r.status_code, r.json()) == (401, INVALID)
    assert bell.presses == []


async def test_the_signature_covers_the_body_and_the_timestamp(bell: Bell) -> None:
    r1 = await bell.post(body=b'{"a": 2}', signature=sign(SECRET, NOW, b'{"a": 1}'))
    r2 = await bell.post(ts=NOW - 1, signature=sign(SECRET, NOW, b"{}"))
    assert [r1.json(), r2.json()] == [INVALID, INVALID]
    assert bell.presses == []


@pytest.mark.parametrize("offset", [-301, 301, -10_000, 10_000])
async def test_stale_or_future_timestamps_are_refused(bell: Bell, offset: int) -> None:
    r = await bell.post(ts=NOW + offset)
    assert r.status_code == 401
    assert r.json()["error"].startswith("timestamp outside the allowed window")
    assert bell.presses == []
    assert bell.audited[0][1]["reason"] == "stale or future timestamp"


@pytest.mark.parametrize("offset", [-300, 300])
async def test_timestamps_at_the_edge_of_the_window_pass(bell: Bell, offset: int) -> None:
    assert (await bell.post(ts=NOW + offset)).status_code == 204


async def test_a_replayed_press_is_refused(bell: Bell) -> None:
    assert (await bell.post()).status_code == 204
    bell.clock.advance(30)
    r = await bell.post(ts=NOW)
    assert (r.status_code, r.json()) == (401, {"error": "replayed request"})
    bell.clock.advance(300)  # the window has passed: now it is merely stale
    r = await bell.post(ts=NOW)
    assert r.json()["error"].startswith("timestamp outside")
    assert (await bell.post(ts=NOW + 330)).status_code == 204  # a fresh signature
    assert len(bell.presses) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {TIMESTAMP_HEADER: str(NOW)},
        {SIGNATURE_HEADER: sign(SECRET, NOW, b"{}")},
        {TIMESTAMP_HEADER: f"{NOW}.5", SIGNATURE_HEADER: sign(SECRET, f"{NOW}.5", b"{}")},
        {TIMESTAMP_HEADER: f"+{NOW}", SIGNATURE_HEADER: sign(SECRET, f"+{NOW}", b"{}")},
        {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: sign(SECRET, NOW, b"{}")[7:]},
        {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "sha256=abc"},
        {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: "sha1=" + "0" * 40},
    ],
)
async def test_missing_or_malformed_headers(bell: Bell, headers: dict[str, str]) -> None:
    for url in (URL, "/api/v1/cameras/back/doorbell"):  # the same answer either way
        r = await bell.post(url, headers=headers)
        assert r.status_code == 401
        assert r.json()["error"].startswith("missing or malformed")
    assert bell.presses == []


async def test_oversized_bodies_are_refused(bell: Bell) -> None:
    body = b"x" * (MAX_BODY + 1)
    r = await bell.post(body=body)
    assert r.status_code == 413
    assert bell.presses == []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(5):
            yield b"y" * 1024

    transport = httpx.ASGITransport(app=bell.app, client=("192.0.2.50", 40000))
    headers = {TIMESTAMP_HEADER: str(NOW), SIGNATURE_HEADER: sign(SECRET, NOW, b"y" * 5120)}
    async with httpx.AsyncClient(transport=transport, base_url="https://box.test") as http:
        r = await http.post(URL, content=chunks(), headers=headers)
    assert r.status_code == 413
    assert bell.presses == []
    assert [p["reason"] for _, p, _ in bell.audited] == ["body too large"] * 2


async def test_repeated_failures_throttle_the_client(bell: Bell) -> None:
    for _ in range(10):
        assert (await bell.post(signature="sha256=" + "0" * 64)).status_code == 401
    r = await bell.post()  # even a valid press, while blocked
    assert r.status_code == 429
    assert r.headers["retry-after"] == "60"
    assert (await bell.post(client="192.0.2.51")).status_code == 204  # others are unaffected
    for _ in range(20):
        assert (await bell.post(signature="sha256=" + "0" * 64)).status_code == 429
    reasons = [p["reason"] for _, p, _ in bell.audited]
    assert reasons == ["bad signature"] * 10 + ["throttled"]  # a flood does not fill the log
    bell.clock.advance(61)
    assert (await bell.post(ts=NOW + 61)).status_code == 204
    assert len(bell.presses) == 2


async def test_failures_spread_out_do_not_throttle(bell: Bell) -> None:
    for _ in range(30):
        assert (await bell.post(signature="sha256=" + "0" * 64)).status_code == 401
        bell.clock.advance(7)
    assert (await bell.post(ts=NOW + 210)).status_code == 204


async def test_the_secret_never_leaves(bell: Bell, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await bell.post()
        await bell.post()
        await bell.post(ts=NOW - 400)
        await bell.post(signature="sha256=" + "1" * 64)
        await bell.post("/api/v1/cameras/back/doorbell")
        await bell.post(body=b"z" * 5000)
        await bell.post(headers={TIMESTAMP_HEADER: SECRET, SIGNATURE_HEADER: SECRET})
        for _ in range(10):
            await bell.post(signature="sha256=" + "2" * 64)
    logged = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    everything = bell.seen + logged + repr(bell.audited)
    assert SECRET not in everything
    assert sign(SECRET, NOW, b"{}")[7:] not in everything  # nor a usable signature
    assert "429" in bell.seen


async def test_the_route_exists_only_when_given() -> None:
    app = create_app(status=_status)
    transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://box.test") as http:
        r = await http.post(URL, content=b"{}")
    assert r.status_code == 404


async def test_other_routes_stay_local_only(bell: Bell) -> None:
    transport = httpx.ASGITransport(app=bell.app, client=("192.0.2.50", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://box.test") as http:
        assert (await http.get("/api/v1/health")).status_code == 403


def test_replay_cache_forgets_old_signatures_and_is_bounded() -> None:
    cache = ReplayCache(window=300, per_camera=2)
    assert cache.add("front", b"a", 1000, 1000) == "new"
    assert cache.add("front", b"a", 1000, 1100) == "replay"
    assert cache.add("front", b"b", 1100, 1100) == "new"
    assert cache.add("front", b"c", 1100, 1100) == "full"  # never forget one still usable
    assert cache.add("back", b"c", 1100, 1100) == "new"
    assert cache.add("front", b"c", 1301, 1301) == "new"  # "a" expired at 1300


def test_throttle_is_bounded_in_clients() -> None:
    throttle = Throttle(limit=2, period=60, block=60, max_clients=3)
    assert throttle.fail("a", 0) is False
    assert throttle.fail("a", 1) is True
    assert throttle.blocked_for("a", 30) == 31
    for client in "bcd":
        throttle.fail(client, 2)
    assert throttle.blocked_for("a", 30) == 0  # evicted, oldest first
    assert len(throttle._clients) == 3
