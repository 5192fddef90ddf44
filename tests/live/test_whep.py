"""WHEP end to end with aiortc on both sides, inside a network namespace: a GStreamer RTSP
camera (x264) -> ``StreamReader`` -> the app's WHEP endpoint -> an aiortc viewer that
receives and decodes the camera's own H.264 (nothing re-encoded on the box)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from nvr.capture import StreamReader
from nvr.live import LiveService
from nvr.web.app import create_app
from tests.live.inside import run_inside
from tests.support.accounts import BASE, LAN, Site
from tests.support.netns import Netns
from tests.support.rtsp_server import Mount, RtspCameraFactory
from tests.web.test_routes import headers_for, status

pytestmark = [pytest.mark.netns, pytest.mark.rtsp]

FRAMES = 30  # 2 s of the 15 fps test pattern


async def wait_online(reader: StreamReader, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while reader.health().state != "online":
            await asyncio.sleep(0.05)


def video_codecs(sdp: str) -> set[str]:
    """The encodings an SDP's rtpmap lines name."""
    return {name.upper() for name in re.findall(r"^a=rtpmap:\d+ ([^/]+)/", sdp, re.MULTILINE)}


async def watch(
    pc: RTCPeerConnection, http: httpx.AsyncClient, auth: dict[str, str]
) -> dict[str, Any]:
    """Start a session, receive ``FRAMES`` decoded pictures; the caller closes ``pc``."""
    pc.addTransceiver("video", direction="recvonly")
    pictures: list[np.ndarray[Any, Any]] = []
    got_all = asyncio.Event()

    async def pull(track: Any) -> None:
        while len(pictures) < FRAMES:
            frame = await track.recv()
            pictures.append(frame.to_ndarray(format="gray"))
        got_all.set()

    pulls: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: pulls.append(asyncio.create_task(pull(track))))
    await pc.setLocalDescription(await pc.createOffer())
    r = await http.post(
        "/api/v1/cameras/porch/whep",
        content=pc.localDescription.sdp,
        headers={**auth, "content-type": "application/sdp"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/sdp"
    await pc.setRemoteDescription(RTCSessionDescription(r.text, "answer"))
    try:
        await asyncio.wait_for(got_all.wait(), 30)
    finally:
        for task in pulls:
            task.cancel()
    return {"answer": r.text, "location": r.headers["location"], "pictures": pictures}


def test_an_aiortc_viewer_gets_the_cameras_h264(
    netns: Netns, rtsp_camera_factory: RtspCameraFactory, site: Site
) -> None:
    camera = rtsp_camera_factory([Mount("/live")], netns=netns)

    async def main() -> dict[str, Any]:
        reader = StreamReader("porch", camera.url("/live"))
        reader.start()
        live = LiveService(
            source=lambda name: reader if name == "porch" else None,
            cameras=lambda: ["porch", "garage"],
            record=site.box.record,
        )
        app = create_app(status=status, accounts=site.accounts, live=live)
        transport = httpx.ASGITransport(app=app, client=LAN)
        try:
            await wait_online(reader)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
                auth = headers_for(site, "viewer")  # sam may watch porch
                pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
                try:
                    seen = await watch(pc, http, auth)
                    seen["viewers_during"] = live.viewers
                    site.open_window()  # the installer may watch porch, but not end sam's view
                    other = headers_for(site, "installer")
                    seen["other"] = (await http.delete(seen["location"], headers=other)).status_code
                    ended = await http.delete(seen["location"], headers=auth)
                    again = await http.delete(seen["location"], headers=auth)
                finally:
                    await pc.close()
                seen["deletes"] = (ended.status_code, again.status_code)
                seen["viewers_after"] = live.viewers
        finally:
            await live.close()
            await asyncio.to_thread(reader.stop)
        return seen

    seen = run_inside(netns, main)
    assert video_codecs(seen["answer"]) <= {"H264", "RTX"}
    assert "H264" in video_codecs(seen["answer"])
    assert re.search(r"^a=candidate:.* typ host", seen["answer"], re.MULTILINE)
    assert not re.search(r"typ (srflx|relay)", seen["answer"])
    pictures = seen["pictures"]
    assert len(pictures) == FRAMES
    assert pictures[0].shape == (360, 640)  # the camera's size: its own pictures
    # The ball moves: the last picture differs from the first.
    difference = np.abs(pictures[-1].astype(int) - pictures[0].astype(int)).mean()
    assert difference > 1.0
    assert seen["viewers_during"] == 1
    assert seen["other"] == 404
    assert seen["deletes"] == (200, 404)
    assert seen["viewers_after"] == 0
    session = seen["location"].rsplit("/", 1)[1]
    kinds = [(k, p.get("session"), user) for k, p, user in site.audit() if k.startswith("live.")]
    assert ("live.start", session, "sam") in kinds
    assert ("live.stop", session, "sam") in kinds
