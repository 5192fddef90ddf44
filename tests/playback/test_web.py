"""The clip route over HTTP (httpx ASGITransport against ``create_app`` + the router):
ranges, errors, unlock, audio on or off, the short cache and one audit entry per built
clip. The segments carry an AAC track, as the recorder writes it when audio is on.
The caller is a signed-in owner session (cookie) whose unlock opens the footage."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from nvr.audit.entry import Actor
from nvr.clock import FakeClock
from nvr.crypto import X25519Identity
from nvr.db import default_sqlite_url, make_engine, session_factory, upgrade
from nvr.keys.store import KeyStore
from nvr.playback import ClipCache
from nvr.service.status import ServiceStatus
from nvr.service.unlock import UnlockManager
from nvr.storage.segments import SegmentStore
from nvr.web.app import create_app, footage_viewer
from nvr.web.playback import playback_router
from nvr.web.session import Accounts
from tests.playback.conftest import CAMERA, T0, AudioSource, Kit, SourceClip, write_segments
from tests.support.accounts import LAN, OWNER, bare_accounts, cookie

PASS = b"sunny-Meadow-42-quietly"
URL = f"/api/v1/cameras/{CAMERA}/clip"


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


CLIP = {"start": iso(2.5), "end": iso(8.5)}


@dataclass
class Web:
    client: httpx.AsyncClient
    token: str  # the session cookie's value
    unlock_token: str
    unlock: UnlockManager
    events: list[tuple[str, dict[str, Any]]]
    clock: FakeClock
    accounts: Accounts
    actors: list[tuple[str, dict[str, Any], Actor]]

    def auth(self, **headers: str) -> dict[str, str]:
        return {**cookie(self.token), **headers}

    def views(self) -> list[dict[str, Any]]:
        return [payload for kind, payload in self.events if kind == "footage.view"]


def no_status() -> ServiceStatus:
    raise AssertionError("not asked in these tests")


@pytest.fixture
async def web(
    tmp_path: Path, segment_source: SourceClip, audio_source: Callable[[int], AudioSource]
) -> AsyncIterator[Web]:
    clock = FakeClock()
    keys = KeyStore(tmp_path / "keys")
    keys.init(PASS, log_n=15, now=datetime(2026, 1, 1, tzinfo=UTC))
    events: list[tuple[str, dict[str, Any]]] = []
    actors: list[tuple[str, dict[str, Any], Actor]] = []

    def record(kind: str, payload: dict[str, Any], actor: Actor) -> None:
        events.append((kind, payload))
        actors.append((kind, payload, actor))

    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    url = default_sqlite_url(data_dir)
    upgrade(url)
    engine = make_engine(url)
    store = SegmentStore(data_dir, session_factory(engine), keys.recipients, clock)
    write_segments(
        Kit(store, X25519Identity.generate(), clock, [], segment_source),
        [0, 30, 60, 90],
        audio=audio_source(16000),
    )
    write_segments(
        Kit(store, X25519Identity.generate(), clock, [], segment_source),
        [0, 30, 60],
        camera="porch",
        audio=[audio_source(16000), None],
    )
    manager = UnlockManager(keys, clock, record)
    accounts = bare_accounts(clock, manager)
    app = create_app(status=no_status, accounts=accounts)
    app.include_router(
        playback_router(
            lambda: store,
            manager,
            record,
            viewer=footage_viewer(accounts),
            cache=ClipCache(clock, ttl=30.0),
        )
    )
    unlock_token = manager.unlock(PASS)
    issued = accounts.sessions.login(OWNER, unlock_token=unlock_token)
    transport = httpx.ASGITransport(app=app, client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url="https://box") as client:
        yield Web(client, issued.token, unlock_token, manager, events, clock, accounts, actors)
    engine.dispose()


async def test_whole_clip_and_byte_ranges(web: Web) -> None:
    full = await web.client.get(URL, params=CLIP, headers=web.auth())
    assert full.status_code == 200
    assert full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    assert full.headers["porchlight-clip-start"] == iso(2.0)  # the keyframe before start
    assert full.headers["porchlight-clip-end"] == iso(8.5)
    body = full.content
    size = len(body)
    assert int(full.headers["content-length"]) == size > 1000
    assert body[4:8] == b"ftyp"
    cases = {
        "bytes=0-99": (0, 99),
        "bytes=100-": (100, size - 1),
        "bytes=-500": (size - 500, size - 1),
        f"bytes=10-{size + 1000}": (10, size - 1),  # clamped to the end
        f"bytes={size - 1}-{size - 1}": (size - 1, size - 1),
        "bytes=0-0,5-9": None,  # several ranges: the whole body (RFC 9110 allows it)
    }
    for header, span in cases.items():
        part = await web.client.get(URL, params=CLIP, headers=web.auth(Range=header))
        if span is None:
            assert part.status_code == 200
            assert part.content == body
            continue
        first, last = span
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert part.headers["accept-ranges"] == "bytes"
        assert part.content == body[first : last + 1]
    assert full.headers["porchlight-audio"] == "aac"
    assert web.views() == [{"camera": CAMERA, "start": iso(2.5), "end": iso(8.5), "audio": True}]


async def test_unsatisfiable_and_bad_ranges(web: Web) -> None:
    size = len((await web.client.get(URL, params=CLIP, headers=web.auth())).content)
    for header in (f"bytes={size}-", f"bytes={size + 5}-{size + 9}", "bytes=-0"):
        response = await web.client.get(URL, params=CLIP, headers=web.auth(Range=header))
        assert response.status_code == 416, header
        assert response.headers["content-range"] == f"bytes */{size}"
    for header in ("bytes=9-2", "items=0-1", "bytes=abc", "bytes=-", "bytes=1-2,x"):
        response = await web.client.get(URL, params=CLIP, headers=web.auth(Range=header))
        assert response.status_code == 400, header
        assert "error" in response.json()
    assert len(web.views()) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"start": "yesterday", "end": iso(5)},
        {"start": iso(1), "end": "2026-03-04T10:00:09"},  # no zone
        {"start": iso(5), "end": iso(5)},
        {"start": iso(6), "end": iso(5)},
        {"start": iso(0), "end": iso(3600)},  # too long
    ],
)
async def test_bad_times(web: Web, params: dict[str, str]) -> None:
    response = await web.client.get(URL, params=params, headers=web.auth())
    assert response.status_code == 400
    assert "error" in response.json()
    assert web.views() == []


async def test_no_footage_is_404(web: Web) -> None:
    later = {"start": iso(100), "end": iso(110)}
    assert (await web.client.get(URL, params=later, headers=web.auth())).status_code == 404
    other = await web.client.get("/api/v1/cameras/back/clip", params=CLIP, headers=web.auth())
    assert other.status_code == 404
    assert other.json()["error"].startswith("no footage")
    assert web.views() == []


async def test_locked_or_signed_out_is_401(web: Web) -> None:
    assert (await web.client.get(URL, params=CLIP)).status_code == 401
    wrong = cookie("not-a-session")
    assert (await web.client.get(URL, params=CLIP, headers=wrong)).status_code == 401
    assert (await web.client.get(URL, params=CLIP, headers=web.auth())).status_code == 200
    web.unlock.lock(web.unlock_token)  # the unlock's idle lock; the session goes on
    # A cached clip is no way around the lock.
    locked = await web.client.get(URL, params=CLIP, headers=web.auth())
    assert locked.status_code == 401
    assert locked.json() == {"error": "locked"}
    assert len(web.views()) == 1
    web.accounts.sessions.logout(web.token)
    assert (await web.client.get(URL, params=CLIP, headers=web.auth())).status_code == 401


async def test_the_audit_entry_names_the_signed_in_owner(web: Web) -> None:
    assert (await web.client.get(URL, params=CLIP, headers=web.auth())).status_code == 200
    assert [actor for kind, _, actor in web.actors if kind == "footage.view"] == [
        Actor(role="owner", user="alex")
    ]


async def test_one_audit_entry_per_built_clip(web: Web) -> None:
    requests = [
        web.client.get(URL, params=CLIP, headers=web.auth(Range=f"bytes={i * 100}-"))
        for i in range(4)
    ]
    assert {r.status_code for r in await asyncio.gather(*requests)} == {206}
    assert len(web.views()) == 1  # concurrent range requests share one build
    other = {"start": iso(3), "end": iso(7)}
    assert (await web.client.get(URL, params=other, headers=web.auth())).status_code == 200
    assert len(web.views()) == 2
    web.clock.advance(31)  # the cache is short-lived: a later view is a new view
    assert (await web.client.get(URL, params=CLIP, headers=web.auth())).status_code == 200
    assert len(web.views()) == 3
    second = web.accounts.sessions.login(OWNER, unlock_token=web.unlock.unlock(PASS))
    headers = cookie(second.token)  # another session never reuses this one's clip
    assert (await web.client.get(URL, params=CLIP, headers=headers)).status_code == 200
    assert len(web.views()) == 4


async def test_tampered_footage_is_409_not_500(web: Web, tmp_path: Path) -> None:
    for path in (tmp_path / "data" / "segments").rglob("*.age"):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01  # a payload byte: the chunk no longer authenticates
        path.write_bytes(bytes(data))
    r = await web.client.get(URL, params=CLIP, headers=web.auth())
    assert r.status_code == 409
    assert "failed authentication" in r.json()["error"]
    assert web.views() == []


def track_types(data: bytes) -> list[str]:
    with av.open(io.BytesIO(data), "r") as container:
        return sorted(stream.type for stream in container.streams)


async def test_audio_on_by_default_off_on_request(web: Web) -> None:
    with_audio = await web.client.get(URL, params=CLIP, headers=web.auth())
    assert with_audio.headers["porchlight-audio"] == "aac"
    assert track_types(with_audio.content) == ["audio", "video"]
    for value in ("0", "false"):
        silent = await web.client.get(URL, params={**CLIP, "audio": value}, headers=web.auth())
        assert silent.status_code == 200
        assert silent.headers["porchlight-audio"] == "omitted (not requested)"
        assert track_types(silent.content) == ["video"]
        assert (
            silent.headers["porchlight-clip-start"] == with_audio.headers["porchlight-clip-start"]
        )
        assert silent.headers["porchlight-clip-end"] == with_audio.headers["porchlight-clip-end"]
    # Cached apart (one build each way), and byte ranges come from the right one.
    part = await web.client.get(
        URL, params={**CLIP, "audio": "0"}, headers=web.auth(Range="bytes=0-99")
    )
    assert part.status_code == 206
    assert part.content == silent.content[:100]
    assert part.headers["porchlight-audio"] == "omitted (not requested)"
    again = await web.client.get(URL, params={**CLIP, "audio": "1"}, headers=web.auth())
    assert again.content == with_audio.content
    assert [view["audio"] for view in web.views()] == [True, False]
    bad = await web.client.get(URL, params={**CLIP, "audio": "loud"}, headers=web.auth())
    assert bad.status_code == 422
    assert len(web.views()) == 2


async def test_audio_header_when_the_footage_has_none_or_not_all(web: Web) -> None:
    url = "/api/v1/cameras/porch/clip"  # audio in its first segment only
    mixed = await web.client.get(
        url, params={"start": iso(1.5), "end": iso(4.5)}, headers=web.auth()
    )
    assert mixed.status_code == 200
    assert mixed.headers["porchlight-audio"] == "omitted (not in every segment)"
    assert track_types(mixed.content) == ["video"]
    none = await web.client.get(
        url, params={"start": iso(3.5), "end": iso(5.5)}, headers=web.auth()
    )
    assert none.headers["porchlight-audio"] == "none"
    assert [view["audio"] for view in web.views()] == [False, False]
