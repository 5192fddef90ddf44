"""Motion in the running service: ``nvr demo`` keeps the demo doorbell's visitors as sealed
motion events the owner can open; an ``events``-mode camera with a sub-stream records
around motion, and the live event bus carries its start and end."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nvr.clock import SystemClock
from nvr.config import Config, parse_config_text
from nvr.demo.rtsp_server import DemoDoorbell
from nvr.events import LiveEvent
from nvr.keys.store import KeyStore
from nvr.service.box import CLI_OWNER, Box, open_box
from nvr.service.runner import Ready, Service
from tests.service.test_serve import Running, _camera, start

PASSPHRASE = "willow-Harbor-64-calmly"


def _box_config(data: Path) -> Config:
    return Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": data})}
    )


def _is_jpeg_of_width(data: bytes | None, width: int) -> bool:
    if data is None or not data.startswith(b"\xff\xd8\xff"):
        return False
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return picture is not None and picture.shape[1] == width


def test_the_demo_keeps_its_visitors_as_sealed_motion_events(
    tmp_path: Path, cleanup: list[Running]
) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    pw.chmod(0o600)
    run = start(
        ["demo", "--passphrase-file", str(pw), "--work-factor", "15"],
        tmp_path,
        owner=("owner", PASSPHRASE),
    )
    cleanup.append(run)
    health = run.wait_for(
        lambda h: _camera(h, "demo-doorbell")["motion"]["events"] >= 1, timeout=90
    )
    motion = _camera(health, "demo-doorbell")["motion"]
    assert motion["stream"] == "main"  # the demo has no sub-stream
    assert motion["sub_state"] is None
    assert motion["state"] in ("idle", "motion")
    assert motion["decode_errors"] == 0
    assert motion["last_event_at"] is not None
    with run.client() as c:
        page = c.get("/").text
    assert "main stream" in page
    code, log = run.stop()
    assert code == 0, log
    assert "Traceback" not in log
    assert "motion started" in log
    [identity, *_] = KeyStore(run.data_dir).unlock(PASSPHRASE.encode()).identities
    box = open_box(_box_config(run.data_dir), SystemClock())
    try:
        events = box.event_store()
        opened = [(ref.id, events.open(ref.id, [identity])) for ref in events.list("demo-doorbell")]
        kept = [(i, e) for i, e in opened if e.type == "motion"]
        assert kept
        event_id, event = kept[0]
        details: dict[str, Any] = event.details
        assert details["zones"] == ["all"]
        assert details["boxes"]
        assert details["start"] < details["end"]
        # The demo doorbell is 960x540: the thumbnail is scaled to 640 wide.
        assert _is_jpeg_of_width(events.thumbnail(event_id, [identity]), 640)
    finally:
        box.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _make_keys(box: Box) -> None:
    box.create_owner_keys(PASSPHRASE.encode(), 15, CLI_OWNER)


async def test_an_events_mode_camera_records_around_motion(tmp_path: Path) -> None:
    """Camera ``porch`` records only around events and reads motion from its sub-stream
    (the demo doorbell's one mount serves as both). The doorbell starts once the service
    is up, so the visitor walks in while it watches."""
    port = _free_port()
    url = f"rtsp://127.0.0.1:{port}/doorbell"
    cfg = parse_config_text(
        "server: {bind: 127.0.0.1}\n"
        "storage: {segment_seconds: 10}\n"
        "cameras:\n"
        "  - name: porch\n"
        f"    main_url: {url}\n"
        f"    sub_url: {url}\n"
        "    record: events\n",
        "nvr.yaml",
    )
    cfg = cfg.model_copy(
        update={
            "server": cfg.server.model_copy(update={"port": 0}),
            "storage": cfg.storage.model_copy(update={"data_dir": tmp_path / "data"}),
        }
    )
    ready = asyncio.Event()

    def on_ready(_: Ready) -> None:
        ready.set()

    service = Service(cfg, clock=SystemClock(), on_ready=on_ready, on_box=_make_keys)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    bell = DemoDoorbell(port=port, width=640, height=360, fps=10, gop_seconds=1.0, scene="visitor")
    live: list[LiveEvent] = []
    try:
        await asyncio.wait_for(ready.wait(), 60)
        with service.events_bus.subscribe() as sub:
            await bell.start()
            live.append(await asyncio.wait_for(sub.get(), 40))
            porch = next(c for c in service.status().cameras if c.name == "porch")
            assert porch.motion.stream == "sub"
            assert porch.motion.sub_state == "online"
            assert porch.motion.state == "motion"
            live.append(await asyncio.wait_for(sub.get(), 40))
        await asyncio.sleep(11)  # the post-roll, then the segment closes at a keyframe
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
        await bell.stop()
    start_ev, end_ev = live
    assert (start_ev.camera, start_ev.kind, start_ev.phase) == ("porch", "motion", "start")
    assert (end_ev.camera, end_ev.kind, end_ev.phase) == ("porch", "motion", "end")
    assert end_ev.zones == ("all",)
    assert end_ev.score is not None
    assert end_ev.score > 0
    [identity, *_] = KeyStore(tmp_path / "data").unlock(PASSPHRASE.encode()).identities
    box = open_box(_box_config(tmp_path / "data"), SystemClock())
    try:
        events = box.event_store()
        [ref] = events.list("porch")
        event = events.open(ref.id, [identity])
        assert event.type == "motion"
        assert _is_jpeg_of_width(events.thumbnail(ref.id, [identity]), 640)
        segments = [r for r in box.segment_store().all_records() if r.state == "closed"]
        assert segments
        first, last = min(r.start for r in segments), max(r.end or r.start for r in segments)
        # Recorded around the event: its start inside the pre-roll, its end inside the
        # post-roll, and (the doorbell ran ~40 s in all) not the whole time.
        assert first <= start_ev.at <= first + timedelta(seconds=6)
        assert end_ev.at <= last
    finally:
        box.close()
