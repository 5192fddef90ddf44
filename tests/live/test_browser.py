"""Live view in a real browser: Debian's Chromium (playwright) inside a network namespace
signs in, opens /live/porch and plays the camera's H.264 over WebRTC from the box.

The box is the real app (``create_app`` with accounts and a ``LiveService``) served by
uvicorn over TLS on the namespace's loopback; the camera is GStreamer's RTSP server with
x264 (a moving ball). The test reads the browser's own view: ``getStats()`` of the page's
peer connection (a test-only hook records it) for the negotiated codec, the video
element's clock, and pixels drawn from it onto a canvas.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from nvr.auth import users
from nvr.bench.chromium import CHROMIUM, FLAGS, WEBRTC_FLAGS
from nvr.capture import StreamReader
from nvr.live import LiveService
from nvr.web import tls
from nvr.web.app import create_app
from tests.live.inside import run_inside
from tests.support.accounts import PASSWORDS, Site
from tests.support.netns import Netns
from tests.support.procs import require
from tests.support.rtsp_server import Mount, RtspCameraFactory
from tests.web.test_routes import status

pytestmark = [pytest.mark.netns, pytest.mark.rtsp]

CHROMIUM_FLAGS = [*FLAGS, *WEBRTC_FLAGS]
# Test-only: remember every RTCPeerConnection the page makes, to read its getStats().
RECORD_PEER_CONNECTIONS = """
window.__pcs = [];
window.RTCPeerConnection = class extends window.RTCPeerConnection {
  constructor(...args) { super(...args); window.__pcs.push(this); }
};
"""
NEGOTIATED = """
async () => {
  const stats = await window.__pcs[0].getStats();
  let inbound = null;
  stats.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") inbound = r; });
  if (!inbound) return null;
  const codec = stats.get(inbound.codecId);
  return { mime: codec && codec.mimeType, decoded: inbound.framesDecoded || 0 };
}
"""
SAMPLE = """
() => {
  const video = document.querySelector('[data-testid="live-video"]');
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  for (let i = 0; i < data.length; i += 4) sum += data[i] * ((i >> 2) % 251 + 1);
  return { time: video.currentTime, width: video.videoWidth, height: video.videoHeight,
           checksum: sum };
}
"""


def event_stream() -> APIRouter:
    """The camera-event stream's contract (SSE ``camera-event``, built elsewhere): one
    doorbell press on porch, then the stream stays open."""
    router = APIRouter()

    async def events() -> AsyncIterator[str]:
        data = {
            "camera": "porch",
            "kind": "doorbell",
            "phase": "instant",
            "at": "2026-11-28T00:00:00Z",
        }
        yield f"event: camera-event\ndata: {json.dumps(data)}\n\n"
        while True:
            await asyncio.sleep(1)

    @router.get("/api/v1/events/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    return router


def artifacts() -> Path:
    path = Path(os.environ.get("PORCHLIGHT_ARTIFACTS", "test-artifacts")) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium and the playwright package, or a skip naming what is missing."""
    reason = None
    if not CHROMIUM.exists():
        reason = "the browser test needs Debian's chromium (/usr/bin/chromium)"
    elif importlib.util.find_spec("playwright") is None:
        reason = "the browser test needs the playwright package (pip)"
    require(reason)
    return CHROMIUM


async def browse(base: str, shot: Path, kill_camera: Callable[[], None]) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            context = await browser.new_context(ignore_https_errors=True)
            await context.add_init_script(RECORD_PEER_CONNECTIONS)
            page = await context.new_page()
            await page.goto(f"{base}/signin")
            await page.get_by_label("Name").fill("sam")
            await page.get_by_label("Password").fill(PASSWORDS["sam"])
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(lambda url: not url.endswith("/signin"))
            await page.goto(f"{base}/live/porch")
            await page.wait_for_selector(
                '[data-testid="live-tile-porch"][data-playing="true"]', timeout=20_000
            )
            negotiated = await page.evaluate(NEGOTIATED)
            first = await page.evaluate(SAMPLE)
            await page.wait_for_timeout(1500)
            second = await page.evaluate(SAMPLE)
            fallback_hidden = await page.get_by_test_id("live-fallback").is_hidden()
            await page.screenshot(path=str(shot), full_page=True)
            # The grid: garage has no stream, so its tile says why and shows snapshots.
            await page.goto(f"{base}/live")
            garage = page.get_by_test_id("live-tile-garage").get_by_test_id("live-fallback")
            await garage.wait_for(state="visible", timeout=10_000)
            garage_reason = await garage.text_content()
            badge = page.get_by_test_id("live-tile-porch").get_by_test_id("live-badge")
            await badge.wait_for(state="visible", timeout=10_000)
            badge_text = await badge.text_content()
            await page.screenshot(path=str(shot.with_name("live-grid.png")), full_page=True)
            # The camera dies mid-view: the frozen tile says so and falls back.
            await page.wait_for_selector('[data-testid="live-tile-porch"][data-playing="true"]')
            kill_camera()
            porch = page.get_by_test_id("live-tile-porch").get_by_test_id("live-fallback")
            await porch.wait_for(state="visible", timeout=20_000)
            porch_reason = await porch.text_content()
        finally:
            await browser.close()
    return {
        "negotiated": negotiated,
        "first": first,
        "second": second,
        "fallback_hidden": fallback_hidden,
        "garage_reason": garage_reason,
        "porch_reason": porch_reason,
        "badge": badge_text,
    }


def test_chromium_plays_the_cameras_h264_live(
    netns: Netns,
    rtsp_camera_factory: RtspCameraFactory,
    site: Site,
    chromium: Path,
    tmp_path: Path,
) -> None:
    camera = rtsp_camera_factory([Mount("/live")], netns=netns)
    with site.box.sessions.begin() as session:
        users.set_viewer_cameras(session, site.ids["sam"], ["porch", "garage"])
    cert = tls.ensure_self_signed(tmp_path / "tls", ["127.0.0.1"], datetime.now(UTC))
    shot = artifacts() / "live-porch.png"

    async def main() -> dict[str, Any]:
        reader = StreamReader("porch", camera.url("/live"))
        reader.start()
        live = LiveService(
            source=lambda name: reader if name == "porch" else None,
            cameras=lambda: ["porch", "garage"],
            record=site.box.record,
        )
        app = create_app(status=status, accounts=site.accounts, live=live)
        app.include_router(event_stream())
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                ssl_certfile=str(cert.cert),
                ssl_keyfile=str(cert.key),
                log_config=None,
                lifespan="off",
            )
        )
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                await asyncio.sleep(0.02)
            return await browse(f"https://127.0.0.1:{port}", shot, camera.kill)
        finally:
            await live.close()
            server.should_exit = True
            await serving
            sock.close()
            await asyncio.to_thread(reader.stop)

    seen = run_inside(netns, main, timeout=90)
    assert seen["negotiated"] is not None
    assert seen["negotiated"]["mime"] == "video/H264"
    assert seen["negotiated"]["decoded"] > 0
    first, second = seen["first"], seen["second"]
    assert (first["width"], first["height"]) == (640, 360)
    assert second["time"] > first["time"]  # the video's clock runs
    assert second["checksum"] != first["checksum"]  # and the picture changes (the ball)
    assert seen["fallback_hidden"]
    assert shot.stat().st_size > 0
    assert seen["garage_reason"] == (
        "live video unavailable: camera 'garage' is not connected yet; showing snapshots"
    )
    assert seen["badge"] == "Doorbell"
    assert seen["porch_reason"] == "live video unavailable: the video stopped; showing snapshots"
    assert any(k == "live.start" and user == "sam" for k, _, user in site.audit())
