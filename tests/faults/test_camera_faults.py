"""Issue 9, camera faults against the real service (``nvr demo`` with the built-in demo
doorbell off, owner keys from a passphrase file, one GStreamer RTSP test camera).

1. **Flapping**: the camera is SIGKILLed and started again on the same port, cycle after
   cycle, for ``PORCHLIGHT_FAULT_FLAP_SECONDS`` (default 60; set it to e.g. 1800 for a
   longer manual run). In every up-window the service reconnects (its packet count
   grows); every outage is a gap row; the segments written verify (``nvr storage
   verify``); the service's threads and open file descriptors (``/proc``) do not grow with
   the number of cycles; it stops cleanly, no traceback in its log.
2. **The camera comes back different**: 640x360 H.264 before, 1280x720 H.265 after a
   restart. The recorder starts a new segment: every segment decodes (ffprobe) with one
   codec and one frame size throughout, both settings were recorded, and the gap between
   them is in the gaps table.

3. **The box's clock jumps** +1 h, then -2 h (NTP or an owner stepping it): the real
   capture reader on the test camera and the recorder share an injected clock whose wall
   time jumps (the system clock cannot be stepped in CI; ``unshare --time`` offsets only
   CLOCK_MONOTONIC and CLOCK_BOOTTIME, never CLOCK_REALTIME). Each jump is detected and
   logged, the segment is cut there, and every segment (unique sequence numbers and
   files, none overwritten) decrypts and plays.

The camera's own clock jumping (RTCP sender reports hours off) is tested with hand-fed
packets in tests/record/test_faults.py (the GStreamer server's RTCP follows the host's
clock); docs/design/faults.md says what is covered where.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from nvr.capture.reader import StreamReader
from nvr.clock import SystemClock
from nvr.config import load_config
from nvr.crypto import X25519Identity
from nvr.db import default_sqlite_url, make_engine, session_factory, upgrade
from nvr.db.models import AuditEntry
from nvr.record import GapLog
from nvr.service.box import open_box
from nvr.service.runner import Service
from nvr.storage.segments import SegmentStore
from tests.record.conftest import RecordKit
from tests.service.test_serve import Running, start
from tests.support.rtsp_server import Mount, RtspCamera, RtspCameraFactory

pytestmark = pytest.mark.rtsp

PASSPHRASE = "sunny-Meadow-42-quietly"
FLAP_SECONDS = float(os.environ.get("PORCHLIGHT_FAULT_FLAP_SECONDS", "60"))
UP_SECONDS = 4.0  # each up-window lasts at least this (longer until the service is back)
DOWN_SECONDS = 3.0
# Threads and fds a healthy service may open or close between two quiet moments (thread
# pools grow lazily); a leak per cycle exceeds this after a handful of cycles.
SLACK = 6


@pytest.fixture
def cleanup() -> Iterator[list[Running]]:
    runs: list[Running] = []
    yield runs
    for run in runs:
        run.close()


def _until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.25)
    return result


def _front(run: Running) -> dict[str, Any]:
    cams = run.health()["cameras"]
    cam: dict[str, Any] = next(c for c in cams if c["name"] == "front")
    return cam


def _serve(camera: RtspCamera, tmp_path: Path, cleanup: list[Running]) -> tuple[Running, Path]:
    config = tmp_path / "nvr.yaml"
    config.write_text(
        'demo:\n  enabled: "off"\n'
        "storage:\n  segment_seconds: 10\n"
        "cameras:\n"
        "  - name: front\n"
        f"    main_url: {camera.url('/door')}\n"
    )
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    pw.chmod(0o600)
    run = start(
        [
            "demo",
            "--config",
            str(config),
            "--passphrase-file",
            str(pw),
            "--work-factor",
            "15",
            "--owner",
            "alex",
        ],
        tmp_path,
        owner=("alex", PASSPHRASE),
    )
    cleanup.append(run)
    _until("front records", lambda: _front(run)["recording"] == "recording", 60)
    return run, config


def _back_online(run: Running, seen: int) -> bool:
    front = _front(run)
    return bool(front["state"] == "online" and front["packets"] > seen)


def _at_least(count: Callable[[], int], n: int) -> bool:
    return count() >= n


def _proc_counts(pid: int) -> tuple[int, int]:
    threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return threads, fds


def _stop(run: Running) -> str:
    code, log = run.stop()
    assert code == 0, log
    assert "stopped cleanly" in log
    assert "Traceback" not in log
    return log


def _gaps(run: Running) -> list[tuple[str, str | None, str]]:
    engine = create_engine(f"sqlite:///{run.data_dir / 'nvr.sqlite3'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT g.start_time, g.end_time, g.reason FROM gaps g"
                    " JOIN cameras c ON c.id = g.camera_id WHERE c.name = 'front'"
                    " ORDER BY g.start_time"
                )
            ).all()
    finally:
        engine.dispose()
    return [(r[0], r[1], r[2]) for r in rows]


def _verify(run: Running, config: Path) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nvr",
            "storage",
            "verify",
            "--passphrase-file",
            str(config.parent / "pw"),
            "--config",
            str(config),
            "--data-dir",
            str(run.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_a_flapping_camera_is_reconnected_every_time_and_each_outage_is_a_gap(
    tmp_path: Path, rtsp_camera_factory: RtspCameraFactory, cleanup: list[Running]
) -> None:
    camera = rtsp_camera_factory([Mount("/door")])
    run, config = _serve(camera, tmp_path, cleanup)
    time.sleep(UP_SECONDS)
    before = _proc_counts(run.proc.pid)
    cycles = 0
    end = time.monotonic() + FLAP_SECONDS
    while time.monotonic() < end or cycles < 3:
        camera.kill()
        time.sleep(DOWN_SECONDS)
        camera.restart()
        cycles += 1
        seen = _front(run)["packets"]
        # The service is back within the up-window (its retry delay stays short while an
        # outage is young: nvr/capture/policy.py FAST_RETRY_CAP).
        _until(
            f"reconnect after outage {cycles}",
            functools.partial(_back_online, run, seen),
            30,
        )
        time.sleep(UP_SECONDS)
    _until("recording again", lambda: _front(run)["recording"] == "recording", 30)
    time.sleep(UP_SECONDS)
    after = _proc_counts(run.proc.pid)
    front = _front(run)
    assert front["reconnects"] >= cycles
    assert front["gaps"] >= cycles
    assert after[0] <= before[0] + SLACK, (before, after)
    assert after[1] <= before[1] + SLACK, (before, after)
    _stop(run)
    gaps = _gaps(run)
    # Every outage is a recorded gap, closed when footage came back (the stop closes its
    # segment without an outage, so none is left open).
    assert len(gaps) >= cycles, gaps
    assert all(end is not None for _, end, _ in gaps), gaps
    report = _verify(run, config)
    closed = int(report.split()[0])
    assert closed >= cycles, report


def _streams(path: Path) -> set[tuple[str, int, int]]:
    """(codec, width, height) of every decoded frame of the file, and its stream's."""
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-of",
            "json",
            "-show_streams",
            "-show_frames",
            "-select_streams",
            "v",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    [stream] = info["streams"]
    codec = stream["codec_name"]
    frames = info["frames"]
    assert frames, path
    seen = {(codec, int(stream["width"]), int(stream["height"]))}
    seen |= {(codec, int(f["width"]), int(f["height"])) for f in frames}
    return seen


def test_a_camera_that_returns_with_another_resolution_and_codec_starts_a_new_segment(
    tmp_path: Path, rtsp_camera_factory: RtspCameraFactory, cleanup: list[Running]
) -> None:
    camera = rtsp_camera_factory([Mount("/door", width=640, height=360)])
    run, config = _serve(camera, tmp_path, cleanup)
    _until("640x360 recorded", lambda: _front(run)["width"] == 640, 30)
    seen = _front(run)["packets"]
    _until("some footage", lambda: _front(run)["packets"] > seen + 30, 30)
    camera.stop()
    camera.mounts = {"/door": Mount("/door", width=1280, height=720, codec="h265")}
    camera.start()
    _until(
        "1280x720 H.265 back",
        lambda: (f := _front(run))["width"] == 1280 and f["codec"] in ("hevc", "h265"),
        60,
    )
    seen = _front(run)["packets"]
    _until("footage after the change", lambda: _front(run)["packets"] > seen + 30, 60)
    _stop(run)
    assert _gaps(run), "the change of camera is a gap"
    _verify(run, config)
    loaded = load_config(config)
    storage = loaded.storage.model_copy(update={"data_dir": run.data_dir})
    cfg = loaded.model_copy(update={"storage": storage})
    box = open_box(cfg, SystemClock())
    try:
        identities = box.keys.unlock(PASSPHRASE.encode()).identities
        store = box.segment_store()
        records = [r for r in store.all_records() if r.camera == "front"]
        settings: list[set[tuple[str, int, int]]] = []
        for record in records:
            path = tmp_path / f"seg-{record.seq}.mp4"
            with store.open_plaintext(record, identities) as src:
                path.write_bytes(src.read())
            settings.append(_streams(path))
    finally:
        box.engine.dispose()
    assert all(len(s) == 1 for s in settings), settings  # no mixed-parameter segment
    assert set().union(*settings) == {("h264", 640, 360), ("hevc", 1280, 720)}, settings


@pytest.fixture
def record_kit(tmp_path: Path) -> Iterator[RecordKit]:
    """A segment store and database of its own (as tests/record's fixture of that name)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    url = default_sqlite_url(data_dir)
    upgrade(url)
    sessions = session_factory(make_engine(url))
    identity = X25519Identity.generate()
    clock = SystemClock()
    store = SegmentStore(data_dir, sessions, lambda: [identity.recipient()], clock)
    yield RecordKit(tmp_path, store, sessions, identity, clock)
    sessions.kw["bind"].dispose()


class JumpingClock(SystemClock):
    """The system's clocks, with a wall-clock offset a test can step."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def wall(self) -> datetime:
        return super().wall() + self.offset


def test_a_box_clock_jump_is_audited_and_loses_or_overwrites_no_footage(
    record_kit: RecordKit,
    rtsp_camera_factory: RtspCameraFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The service's own wiring (``Service`` builds the ``CameraSet`` that makes each
    recorder and hands it the audit hook) on a real reader of the test camera, with the
    service's box (database and audit log) on the same jumping clock."""
    camera = rtsp_camera_factory([Mount("/door")])
    clock = JumpingClock()
    config = record_kit.tmp / "nvr.yaml"
    config.write_text(
        'demo:\n  enabled: "off"\n'
        f"storage:\n  data_dir: {record_kit.tmp / 'box'}\n  segment_seconds: 10\n"
        f"cameras:\n  - name: front\n    main_url: {camera.url('/door')}\n"
    )
    cfg = load_config(config)
    service = Service(cfg, clock=clock)
    box = open_box(cfg, clock)
    service._box = box  # as the running service sets it once the box is open
    reader = StreamReader("front", camera.url("/door"), clock=clock)
    recorder = service._cameras._recorder_for(
        reader, "continuous", (record_kit.store, GapLog(record_kit.sessions, clock))
    )
    assert recorder is not None
    caplog.set_level(logging.WARNING)
    recorder.start()
    reader.start()
    try:

        def segments() -> int:
            return len(record_kit.store.all_records())

        _until("a first segment", functools.partial(_at_least, segments, 1), 60)
        for step in (timedelta(hours=1), timedelta(hours=-2)):
            before = segments()
            clock.offset += step
            _until(
                "a segment after the jump", functools.partial(_at_least, segments, before + 1), 60
            )
    finally:
        reader.stop()
        assert recorder.stop()
    try:
        with box.sessions() as session:
            audited = [
                json.loads(e)["payload"]
                for e in session.scalars(
                    select(AuditEntry.entry_json).where(AuditEntry.kind == "clock.jump")
                )
            ]
    finally:
        box.engine.dispose()
    assert audited == [{"camera": "front", "seconds": 3600}, {"camera": "front", "seconds": -7200}]
    assert recorder.status().clock_jumps == 2
    jumps = [r.getMessage() for r in caplog.records if "wall clock jumped" in r.getMessage()]
    assert len(jumps) == 4, jumps  # the recorder's line and the service's, for each jump
    records = record_kit.store.all_records()
    assert len({r.seq for r in records}) == len(records)
    assert len({record_kit.store.path_of(r) for r in records}) == len(records)
    for record in records:
        assert record.end is not None
        assert record.end > record.start
        assert record_kit.probe(record).packets, record
    # Footage on each side of each jump: before (+0), after the first (+1 h), after the
    # second (-1 h); no segment spans a jump.
    now = datetime.now(records[0].start.tzinfo)
    offsets = [round((r.start - now).total_seconds() / 3600) for r in records]
    assert set(offsets) == {0, 1, -1}, offsets
    assert offsets == sorted(offsets, key=[0, 1, -1].index), offsets
