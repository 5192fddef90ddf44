"""Cameras changed over the API while the service runs: the config file the installer
edits is rewritten (its comments kept, secrets in the 0600 secrets file), bad input is a
422 naming the field with nothing written, and the running ``CameraSet`` follows without
a restart: a real RTSP camera added over the API records segments, an edited one comes
back with its new settings, a removed one stops and its footage stays. Also the live
stream test and ``enable_recording`` (keys made while cameras already run)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from nvr.auth.policy import Role
from nvr.auth.sessions import CSRF_HEADER, Principal
from nvr.clock import SystemClock
from nvr.config import Config, load_config
from nvr.record.gaps import GapLog
from nvr.service.accounts import build_accounts
from nvr.service.box import CLI_OWNER, Box, open_box
from nvr.service.camera_admin import CameraAdmin
from nvr.service.cameras import CameraSet
from nvr.service.status import CameraStatus, ServiceStatus
from nvr.service.unlock import UnlockManager
from nvr.web.app import create_app
from nvr.web.session import Accounts
from tests.support.accounts import BASE, FAST, LAN, PASSPHRASE, cookie
from tests.support.rtsp_server import RtspCamera

CONFIG = """\
# Porch cameras, looked after by the installer. KEEP THIS COMMENT.
logging:
  level: info

cameras: []

# Notifications come after the cameras.
notifications: {}
"""
RIGHT = "digest-pass"


def status() -> ServiceStatus:
    return ServiceStatus(
        version="0.1.0",
        started_at=datetime(2026, 11, 27, tzinfo=UTC),
        uptime_seconds=1.0,
        tls_fingerprint="AB:CD",
    )


@dataclass
class Running:
    box: Box
    accounts: Accounts
    unlocks: UnlockManager
    cameras: CameraSet
    admin: CameraAdmin
    config: Path
    http: httpx.AsyncClient
    headers: dict[str, str]

    def audit(self) -> list[dict[str, Any]]:
        result = self.box.audit.verify()
        return [json.loads(self.box.audit.entry(i)) for i in range(result.entries)]

    def camera(self, name: str) -> CameraStatus | None:
        return next((c for c in self.cameras.statuses() if c.name == name), None)

    async def until(self, what: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout}s: {self.cameras.statuses()}")
            await asyncio.sleep(0.2)


async def running(tmp_path: Path, *, keys: bool = True) -> AsyncIterator[Running]:
    clock = SystemClock()
    base = Config()
    cfg = base.model_copy(
        update={
            "storage": base.storage.model_copy(
                update={"data_dir": tmp_path / "data", "segment_seconds": 10}
            )
        }
    )
    box = open_box(cfg, clock)
    if keys:
        box.create_owner_keys(PASSPHRASE.encode(), 15, CLI_OWNER, "alex")
    unlocks = UnlockManager(box.keys, clock, box.record)
    accounts = build_accounts(box, unlocks, clock, argon2=FAST)
    config = tmp_path / "etc" / "nvr.yaml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    cameras = CameraSet(cfg, clock, demo=False)
    store = box.segment_store()
    await cameras.start((store, GapLog(box.sessions, clock)) if keys else None)
    admin = CameraAdmin(config, cameras, box.record, env={})
    app = create_app(
        status=status, accounts=accounts, record=box.record, cameras=admin, segments=lambda: store
    )
    headers: dict[str, str] = {}
    if keys:
        principal = Principal(1, "alex", Role.OWNER)
        issued = accounts.sessions.login(
            principal, unlock_token=unlocks.unlock(PASSPHRASE.encode())
        )
        headers = {**cookie(issued.token), CSRF_HEADER: issued.session.csrf_token}
    transport = httpx.ASGITransport(app=app, client=LAN)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        try:
            yield Running(box, accounts, unlocks, cameras, admin, config, http, headers)
        finally:
            await cameras.stop()
            box.close()


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Running]:
    async for value in running(tmp_path):
        yield value


async def test_bad_camera_input_is_422_with_the_field_and_nothing_is_written(
    run: Running,
) -> None:
    before = run.config.read_bytes()
    url = "rtsp://127.0.0.1:9/x"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "Bad Name", "main_url": url}, "name"),
        ({"name": "door", "main_url": "http://127.0.0.1/x"}, "main_url"),
        ({"name": "door"}, "main_url"),
        ({"name": "door", "main_url": url, "onvif_host": "10.0.0.5"}, "main_url"),
        ({"name": "door", "main_url": url, "password": "x"}, "password"),
        (
            {
                "name": "door",
                "main_url": url,
                "motion": {"zones": [{"name": "path", "points": [[0, 0], [1.5, 0], [1, 1]]}]},
            },
            "motion.zones[0].points",
        ),
        (
            {
                "name": "door",
                "main_url": url,
                "motion": {"masks": [{"points": [[0, 0], [1, 0]]}]},
            },
            "motion.masks[0].points",
        ),
    ]
    for body, field in cases:
        r = await run.http.post("/api/v1/cameras", json=body, headers=run.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"].startswith(field), (body, r.json())
        assert r.json()["error"]
    assert run.config.read_bytes() == before
    assert not (run.config.parent / "secrets.yaml").exists()
    assert run.cameras.statuses() == []
    r = await run.http.put("/api/v1/cameras/nope", json={"name": "nope"}, headers=run.headers)
    assert (r.status_code, r.json()["error"]) == (404, "no such camera in the config file")
    assert [e["kind"] for e in run.audit() if e["kind"].startswith("cameras.")] == []


@pytest.mark.rtsp
async def test_a_camera_added_edited_and_removed_over_the_api_follows_in_the_service(
    run: Running, rtsp_camera: RtspCamera
) -> None:
    body = {
        "name": "door",
        "main_url": f"rtsp://127.0.0.1:{rtsp_camera.port}/digest",
        "username": "viewer",
        "password": RIGHT,
    }
    r = await run.http.post("/api/v1/cameras", json=body, headers=run.headers)
    assert r.status_code == 201, r.text
    assert r.json()["password_set"] is True
    text = run.config.read_text()
    assert "KEEP THIS COMMENT" in text
    assert "# Notifications come after the cameras." in text
    assert "password: !secret door_password" in text
    assert RIGHT not in text
    secrets = run.config.parent / "secrets.yaml"
    assert RIGHT in secrets.read_text()
    assert (secrets.stat().st_mode & 0o777) == 0o600
    assert load_config(run.config, env={}).cameras[0].name == "door"
    # The running service picked it up: reading and recording, no restart.
    await run.until(lambda: (c := run.camera("door")) is not None and c.recording == "recording")
    listing = await run.http.get("/api/v1/cameras", headers=run.headers)
    assert [c["name"] for c in listing.json()["cameras"]] == ["door"]
    assert RIGHT not in listing.text
    door = listing.json()["cameras"][0]
    assert (door["username"], door["password_set"], door["status"]["state"]) == (
        "viewer",
        True,
        "online",
    )
    # Edit: events only, a zone and a mask; the stored password is kept (none sent).
    zone = {"name": "path", "points": [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]}
    mask = {"name": "street", "points": [[0, 0], [1, 0], [1, 0.2]]}
    edited = {
        "name": "door",
        "main_url": body["main_url"],
        "username": "viewer",
        "record": "events",
        "motion": {"enabled": True, "sensitivity": "high", "zones": [zone], "masks": [mask]},
    }
    r = await run.http.put("/api/v1/cameras/door", json=edited, headers=run.headers)
    assert r.status_code == 200, r.text
    text = run.config.read_text()
    assert "KEEP THIS COMMENT" in text
    assert "points: [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1.0]]" in text
    assert "password: !secret door_password" in text
    cam = load_config(run.config, env={}).cameras[0]
    assert cam.record == "events"
    assert cam.motion.zones[0].points[1] == (0.9, 0.5)
    assert cam.motion.masks[0].name == "street"
    await run.until(lambda: (c := run.camera("door")) is not None and c.state == "online")
    # Remove: the reader and recorder stop, the footage recorded so far stays.
    r = await run.http.delete("/api/v1/cameras/door", headers=run.headers)
    assert r.status_code == 204
    assert run.camera("door") is None
    text = run.config.read_text()
    assert "door" not in text
    assert "KEEP THIS COMMENT" in text
    assert "cameras: []" in text
    store = run.box.segment_store()
    assert any(rec.camera == "door" for rec in store.all_records())
    entries = run.audit()
    kinds = [e["kind"] for e in entries if e["kind"].startswith("cameras.")]
    assert kinds == ["cameras.add", "cameras.edit", "cameras.remove"]
    assert RIGHT not in json.dumps(entries)
    edit = next(e for e in entries if e["kind"] == "cameras.edit")
    assert edit["actor"]["user"] == "alex"
    assert "motion" in edit["payload"]["changed"]


@pytest.mark.rtsp
async def test_the_live_stream_test_reports_the_format_or_why_not(
    run: Running, rtsp_camera: RtspCamera
) -> None:
    url = f"rtsp://127.0.0.1:{rtsp_camera.port}/digest"
    ok = await run.http.post(
        "/api/v1/cameras/test",
        json={"url": url, "username": "viewer", "password": RIGHT},
        headers=run.headers,
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["codec"], ok.json()["supported"]) == ("h264", True)
    assert ok.json()["width"] > 0
    wrong = await run.http.post(
        "/api/v1/cameras/test",
        json={"url": f"rtsp://viewer:not-it@127.0.0.1:{rtsp_camera.port}/digest"},
        headers=run.headers,
    )
    assert wrong.status_code == 422
    assert "username or password" in wrong.json()["error"]
    assert "not-it" not in wrong.text
    closed = rtsp_camera.port + 1 if rtsp_camera.port < 65535 else 1
    refused = await run.http.post(
        "/api/v1/cameras/test", json={"url": f"rtsp://127.0.0.1:{closed}/x"}, headers=run.headers
    )
    assert refused.status_code == 422
    assert refused.json()["field"] == "url"
    not_rtsp = await run.http.post(
        "/api/v1/cameras/test", json={"url": "https://127.0.0.1/x"}, headers=run.headers
    )
    assert (not_rtsp.status_code, not_rtsp.json()["field"]) == (422, "url")


@pytest.fixture
async def keyless(tmp_path: Path) -> AsyncIterator[Running]:
    async for value in running(tmp_path, keys=False):
        yield value


@pytest.mark.rtsp
async def test_enable_recording_starts_recorders_for_cameras_already_running(
    keyless: Running, rtsp_camera: RtspCamera
) -> None:
    cam = Config.model_validate(
        {"cameras": [{"name": "porch", "main_url": rtsp_camera.url("/live")}]}
    ).cameras[0]
    await keyless.cameras.add_camera(cam)
    await keyless.until(lambda: (c := keyless.camera("porch")) is not None and c.packets > 5)
    status_before = keyless.camera("porch")
    assert status_before is not None
    assert status_before.recording == "off"  # no keys: nothing records
    keyless.box.create_owner_keys(PASSPHRASE.encode(), 15, CLI_OWNER, "alex")
    store = keyless.box.segment_store()
    recording = (store, GapLog(keyless.box.sessions, SystemClock()))
    assert keyless.cameras.enable_recording(recording) == ["porch"]
    await keyless.until(
        lambda: (c := keyless.camera("porch")) is not None and c.recording == "recording"
    )
    assert keyless.cameras.enable_recording(recording) == []  # once per camera
    assert await keyless.cameras.remove_camera("porch") is True
    assert await keyless.cameras.remove_camera("porch") is False
    assert any(rec.camera == "porch" for rec in store.all_records())


async def test_an_onvif_camera_is_added_with_its_secret_and_removed_while_unreachable(
    run: Running,
) -> None:
    """Nothing listens on 127.0.0.1:9: the camera's ONVIF task keeps retrying, and removing
    the camera cancels it; the password goes to the secrets file, and an edit without a
    password keeps it."""
    body = {
        "name": "gate",
        "onvif_host": "127.0.0.1",
        "onvif_port": 9,
        "username": "admin",
        "password": "Gate-Secret-31",
    }
    r = await run.http.post("/api/v1/cameras", json=body, headers=run.headers)
    assert r.status_code == 201, r.text
    cam = load_config(run.config, env={}).cameras[0]
    assert cam.onvif is not None
    assert (cam.onvif.host, cam.onvif.port, cam.onvif.username) == ("127.0.0.1", 9, "admin")
    assert cam.onvif.password is not None
    assert cam.onvif.password.reveal() == "Gate-Secret-31"
    assert "Gate-Secret-31" not in run.config.read_text()
    await run.until(lambda: (c := run.camera("gate")) is not None and c.state == "unreachable")
    edit = {k: v for k, v in body.items() if k != "password"} | {"record": "off"}
    r = await run.http.put("/api/v1/cameras/gate", json=edit, headers=run.headers)
    assert r.status_code == 200, r.text
    assert r.json()["password_set"] is True
    cam = load_config(run.config, env={}).cameras[0]
    assert cam.record == "off"
    assert cam.onvif is not None
    assert cam.onvif.password is not None
    r = await run.http.delete("/api/v1/cameras/gate", headers=run.headers)
    assert r.status_code == 204
    assert run.camera("gate") is None
    assert await run.cameras.remove_camera("gate") is False
