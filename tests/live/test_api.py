"""The live API's answers that need no WebRTC connection: who may ask, bad offers, limits,
offline cameras, and snapshots of a real stream (the demo doorbell over RTSP)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import av
import httpx
import pytest

from nvr.capture import StreamReader
from nvr.demo.rtsp_server import DemoDoorbell
from nvr.live import LiveService
from nvr.web.app import create_app
from tests.support.accounts import BASE, LAN, Site
from tests.web.test_routes import headers_for, status

WHEP = "/api/v1/cameras/{}/whep"
SDP = {"content-type": "application/sdp"}


def offer(codec: str = "H264", fmtp: str = "packetization-mode=1;profile-level-id=42e01f") -> str:
    """A browser-shaped offer with one recvonly video section."""
    lines = [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=video 9 UDP/TLS/RTP/SAVPF 102",
        "c=IN IP4 0.0.0.0",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "a=mid:0",
        "a=recvonly",
        "a=rtcp-mux",
        f"a=rtpmap:102 {codec}/90000",
        f"a=fmtp:102 {fmtp}",
    ]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
async def stream(doorbell: DemoDoorbell) -> AsyncIterator[StreamReader]:
    reader = StreamReader("porch", doorbell.url)
    reader.start()
    async with asyncio.timeout(20):
        while reader.health().state != "online":
            await asyncio.sleep(0.05)
    yield reader
    await asyncio.to_thread(reader.stop)


def make_live(site: Site, reader: StreamReader | None, max_viewers: int = 8) -> LiveService:
    return LiveService(
        source=lambda name: reader if name == "porch" else None,
        cameras=lambda: ["porch", "garage"],
        record=site.box.record,
        max_viewers=max_viewers,
    )


@pytest.fixture
async def live(site: Site) -> AsyncIterator[LiveService]:
    """Live view with no stream running: enough for everything refused before the
    camera's stream is needed (name, offer, cap, permissions)."""
    service = make_live(site, None)
    yield service
    await service.close()


@contextlib.asynccontextmanager
async def client_for(site: Site, live: LiveService) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(status=status, accounts=site.accounts, live=live)
    transport = httpx.ASGITransport(app=app, client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def http(site: Site, live: LiveService) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(site, live) as client:
        yield client


async def test_an_unknown_camera_is_404(site: Site, http: httpx.AsyncClient) -> None:
    r = await http.post(
        WHEP.format("nope"), content=offer(), headers={**SDP, **headers_for(site, "owner")}
    )
    assert (r.status_code, r.json()) == (404, {"error": "no camera named 'nope'"})


async def test_a_viewer_only_reaches_the_cameras_allowed(
    site: Site, http: httpx.AsyncClient
) -> None:
    sam = headers_for(site, "viewer")
    r = await http.post(WHEP.format("garage"), content=offer(), headers={**SDP, **sam})
    assert r.status_code == 403
    assert "garage" in r.json()["error"]
    r = await http.get("/api/v1/cameras/garage/snapshot.jpg", headers=sam)
    assert r.status_code == 403
    grid = await http.get("/live", headers=sam)
    assert 'data-camera="porch"' in grid.text
    assert 'data-camera="garage"' not in grid.text


async def test_starting_live_view_needs_the_csrf_header(
    site: Site, http: httpx.AsyncClient
) -> None:
    headers = headers_for(site, "owner")
    del headers["X-CSRF-Token"]
    r = await http.post(WHEP.format("porch"), content=offer(), headers={**SDP, **headers})
    assert r.status_code == 403
    assert "CSRF" in r.json()["error"]


async def test_an_offer_without_h264_is_refused_with_the_reason(
    site: Site, http: httpx.AsyncClient
) -> None:
    owner = {**SDP, **headers_for(site, "owner")}
    for sdp in (offer("VP8", "x-google-start-bitrate=800"), offer(fmtp="packetization-mode=0")):
        r = await http.post(WHEP.format("porch"), content=sdp, headers=owner)
        assert r.status_code == 422
        assert "H.264" in r.json()["error"]
    r = await http.post(WHEP.format("porch"), content="hello", headers=owner)
    assert r.status_code == 422
    r = await http.post(
        WHEP.format("porch"), content=offer(), headers={**headers_for(site, "owner")}
    )
    assert r.status_code == 415


async def test_patch_is_not_supported_and_options_says_what_is(
    site: Site, http: httpx.AsyncClient
) -> None:
    owner = headers_for(site, "owner")
    r = await http.patch(WHEP.format("porch") + "/abc", headers=owner)
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE"
    assert "trickle" in r.json()["error"]
    r = await http.options(WHEP.format("porch"), headers=owner)
    assert r.status_code == 204
    assert r.headers["accept-post"] == "application/sdp"


async def test_an_offline_camera_is_503_with_a_reason(site: Site, http: httpx.AsyncClient) -> None:
    owner = headers_for(site, "owner")
    r = await http.post(WHEP.format("garage"), content=offer(), headers={**SDP, **owner})
    assert (r.status_code, r.json()) == (503, {"error": "camera 'garage' is not connected yet"})
    r = await http.get("/api/v1/cameras/garage/snapshot.jpg", headers=owner)
    assert r.status_code == 503


async def test_viewers_past_the_cap_get_503(site: Site) -> None:
    live = make_live(site, None, max_viewers=0)
    async with client_for(site, live) as http:
        r = await http.post(
            WHEP.format("porch"), content=offer(), headers={**SDP, **headers_for(site, "owner")}
        )
    await live.close()
    assert r.status_code == 503
    assert "limit" in r.json()["error"]
    assert r.headers["retry-after"] == "30"


async def test_a_snapshot_is_a_jpeg_of_the_cameras_picture(
    site: Site, stream: StreamReader
) -> None:
    live = make_live(site, stream)
    async with client_for(site, live) as http:
        await check_snapshots(site, http)
    await live.close()


async def check_snapshots(site: Site, http: httpx.AsyncClient) -> None:
    sam = headers_for(site, "viewer")
    r = await http.get("/api/v1/cameras/porch/snapshot.jpg", headers=sam)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    decoder = av.CodecContext.create("mjpeg", "r")
    assert isinstance(decoder, av.VideoCodecContext)
    pictures = decoder.decode(av.Packet(r.content))
    assert [(p.width, p.height) for p in pictures] == [(320, 180)]  # the doorbell's size
    assert r.headers["porchlight-size"] == "320x180"
    again = await http.get("/api/v1/cameras/porch/snapshot.jpg", headers=sam)
    assert again.status_code == 200
    snapshots = [(p, u) for k, p, u in site.audit() if k == "live.snapshot"]
    assert snapshots == [({"camera": "porch"}, "sam")]  # one entry, not one per poll


async def test_a_viewer_that_leaves_while_sending_its_offer_is_no_error(
    site: Site, live: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    """A browser that leaves /live while its WHEP POST is still on the wire: the body read
    ends in a disconnect. That is a normal end (nobody to answer), not a logged traceback."""
    app = create_app(status=status, accounts=site.accounts, live=live)
    headers = {**SDP, **headers_for(site, "owner"), "host": "box.test"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": WHEP.format("porch"),
        "raw_path": WHEP.format("porch").encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": LAN,
        "server": ("box.test", 443),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level("DEBUG"):
        await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] != [500]
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text
    assert live.viewers == 0
