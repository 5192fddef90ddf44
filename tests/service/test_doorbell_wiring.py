"""The service offers the doorbell webhook only for cameras that configure it, and turns
an accepted press into the same camera event as an ONVIF press."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest

from nvr.clock import FakeClock
from nvr.config import parse_config_text
from nvr.service.box import Box
from nvr.service.runner import Service
from nvr.web.app import create_app
from nvr.web.doorbell import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SECRET = "Wiring-Test-Doorbell-Secret-0123456789"
CAMERAS = """\
cameras:
  - name: front
    main_url: rtsp://192.0.2.7/live
    doorbell_webhook: {secret: %s}
  - name: back
    main_url: rtsp://192.0.2.8/live
"""


def _box(audited: list[tuple[str, dict[str, Any]]]) -> Box:
    return cast(
        Box, SimpleNamespace(record=lambda kind, payload, *_: audited.append((kind, payload)))
    )


def test_no_webhook_configured_means_no_route() -> None:
    cfg = parse_config_text(
        "cameras:\n  - name: back\n    main_url: rtsp://192.0.2.8/live\n", "nvr.yaml"
    )
    assert Service(cfg, clock=FakeClock())._doorbell_router(_box([])) is None


async def test_a_press_becomes_a_camera_event(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    service = Service(parse_config_text(CAMERAS % SECRET, "nvr.yaml"), clock=clock)
    audited: list[tuple[str, dict[str, Any]]] = []
    router = service._doorbell_router(_box(audited))
    assert router is not None
    app = create_app(status=service.status, doorbell=router)
    ts = int(clock.wall().timestamp())
    transport = httpx.ASGITransport(app=app, client=("192.0.2.50", 40000))
    with caplog.at_level(logging.INFO, logger="nvr.service.runner"):
        async with httpx.AsyncClient(transport=transport, base_url="https://box.test") as http:
            for camera in ("front", "back"):
                r = await http.post(
                    f"/api/v1/cameras/{camera}/doorbell",
                    content=b"",
                    headers={TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(SECRET, ts, b"")},
                )
                assert r.status_code == (204 if camera == "front" else 401)
    events = [vars(rec) for rec in caplog.records if rec.getMessage() == "camera event"]
    assert [(e["camera"], e["kind"]) for e in events] == [("front", "doorbell")]
    assert audited == [
        (
            "doorbell.rejected",
            {"camera": "back", "reason": "unknown camera or no webhook", "client": "192.0.2.50"},
        )
    ]
