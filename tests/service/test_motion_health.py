"""Motion health: what ``CameraSet`` reports per camera (no decoder when motion is off, a
sub-stream reader when there is a sub-stream), and how the API and the status page show
it. Real cameras' values are checked in test_motion_events."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from nvr.clock import SystemClock
from nvr.config import parse_config_text
from nvr.service.cameras import CameraSet
from nvr.service.status import CameraStatus, MotionHealth, ServiceStatus
from nvr.web.app import create_app

AT = datetime(2026, 11, 27, 12, 0, 5, tzinfo=UTC)


def _status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=AT,
        uptime_seconds=5.0,
        tls_fingerprint="AB:CD",
        cameras=[
            CameraStatus(
                name="porch",
                state="online",
                motion=MotionHealth(
                    state="motion",
                    stream="sub",
                    sub_state="auth_failed",
                    sub_error="the camera rejected the username or password",
                    fps=4.96,
                    dropped=3,
                    events=2,
                    last_event_at=AT,
                ),
            ),
            CameraStatus(name="garage", state="online"),  # motion off
        ],
    )


async def test_motion_health_in_the_api_and_on_the_page() -> None:
    transport = httpx.ASGITransport(app=create_app(status=_status), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="https://box.test") as client:
        health = (await client.get("/api/v1/health")).json()
        page = (await client.get("/")).text
    porch, garage = health["cameras"]
    assert porch["motion"] == {
        "state": "motion",
        "stream": "sub",
        "sub_state": "auth_failed",
        "sub_error": "the camera rejected the username or password",
        "fps": 4.96,
        "decode_errors": 0,
        "dropped": 3,
        "events": 2,
        "last_event_at": "2026-11-27T12:00:05Z",
    }
    assert garage["motion"]["state"] == "off"
    assert garage["motion"]["stream"] is None
    assert "sub stream (auth failed), 5.0 fps analysed" in page
    assert "2 events, last 12:00:05 UTC" in page
    assert "sub-stream: the camera rejected the username or password" in page
    assert "0 decode errors, 3 packets dropped" in page


async def test_motion_off_means_no_decoder_and_no_sub_stream_reader() -> None:
    """Ports 1 and 2 on loopback refuse at once: the readers just retry in the background."""
    cfg = parse_config_text(
        "cameras:\n"
        "  - name: porch\n"
        "    main_url: rtsp://127.0.0.1:1/main\n"
        "    sub_url: rtsp://127.0.0.1:2/sub\n"
        "    motion: {enabled: false}\n"
        "  - name: drive\n"
        "    main_url: rtsp://127.0.0.1:1/main\n"
        "    sub_url: rtsp://127.0.0.1:2/sub\n",
        "nvr.yaml",
    )
    cameras = CameraSet(cfg, SystemClock(), demo=False)
    await cameras.start(None)
    try:
        statuses = {s.name: s for s in cameras.statuses()}
    finally:
        await cameras.stop()
    assert set(statuses) == {"porch", "drive"}  # one row per camera, sub-streams included
    assert statuses["porch"].motion == MotionHealth()  # off: nothing decoded
    drive = statuses["drive"].motion
    assert drive.state == "idle"
    assert drive.stream == "sub"
    assert drive.sub_state in ("connecting", "unreachable")
