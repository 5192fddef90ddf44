"""The recorder against GStreamer's RTSP server (real camera, real store, real ffprobe).

The issue asks for 3 minutes of recording at the default 60 s segments; these tests use
10 s segments and ~35 s of footage instead, which exercises the same cuts and joins in a
fraction of the time. The live mount is 640x360 at 15 fps with a 1 s GOP.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from nvr.capture import StreamReader
from nvr.record import GapLog, Outage, Recorder, RecordMode, gaps
from nvr.storage.segments import SegmentRecord
from tests.record.conftest import Probe, RecordKit, top_level_boxes
from tests.support.rtsp_server import Mount, RtspCamera, RtspCameraFactory

pytestmark = pytest.mark.rtsp

FPS = 15
GOP = 1.0
FRAME = 1 / FPS


class Rig:
    """A StreamReader feeding a Recorder, as the service wires them."""

    def __init__(self, kit: RecordKit, camera: RtspCamera, mode: RecordMode, **kw: Any) -> None:
        self.kit = kit
        self.outages: list[Outage] = []
        log = GapLog(kit.sessions, kit.clock)

        def on_gap(outage: Outage) -> None:
            self.outages.append(outage)
            log(outage)

        self.reader = StreamReader("cam", camera.url("/live"), clock=kit.clock)
        self.recorder = Recorder(
            "cam",
            self.reader.subscribe(256),
            kit.store,
            kit.clock,
            mode=mode,
            on_gap=on_gap,
            **kw,
        )
        self.recorder.start()
        self.reader.start()

    def stop(self) -> list[SegmentRecord]:
        self.reader.stop()
        assert self.recorder.stop()
        return [r for r in self.kit.store.all_records() if r.camera == "cam"]

    def wait_recording(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.recorder.status().state != "recording":
            assert time.monotonic() < deadline, "recording did not start"
            time.sleep(0.05)


@pytest.fixture
def camera(rtsp_camera_factory: RtspCameraFactory) -> RtspCamera:
    return rtsp_camera_factory([Mount("/live")])


@pytest.fixture
def rigs() -> Iterator[list[Rig]]:
    made: list[Rig] = []
    yield made
    for rig in made:
        rig.reader.stop()
        rig.recorder.stop()


def check_segment(kit: RecordKit, record: SegmentRecord) -> Probe:
    """Valid fMP4, starts on a keyframe at 0, one frame every 1/FPS, as long as its row."""
    assert record.state == "closed"
    assert record.end is not None
    probe = kit.probe(record)
    kinds = top_level_boxes(probe.data)
    assert kinds[:2] == [b"ftyp", b"moov"], kinds[:4]
    assert set(kinds[2:]) <= {b"moof", b"mdat", b"free"}
    first = probe.packets[0]
    assert first.keyframe
    assert first.dts == pytest.approx(0.0, abs=1e-6)
    times = [p.dts for p in probe.packets]
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert all(abs(s - FRAME) < 0.02 for s in steps), "frames lost or duplicated inside"
    seconds = (record.end - record.start).total_seconds()
    assert len(probe.packets) == round(seconds * FPS)
    return probe


def test_continuous_segments_start_on_keyframes_and_join_exactly(
    record_kit: RecordKit, camera: RtspCamera, rigs: list[Rig]
) -> None:
    # Three minutes from a live mount, as the issue asks, in the default 60 s segments.
    rig = Rig(record_kit, camera, "continuous", segment_seconds=60.0)
    rigs.append(rig)
    rig.wait_recording()
    time.sleep(188)
    records = rig.stop()
    assert len(records) == 4, records
    frees = 0
    for n, record in enumerate(records):
        probe = check_segment(record_kit, record)
        assert record.end is not None
        seconds = (record.end - record.start).total_seconds()
        if n < len(records) - 1:
            assert 60.0 <= seconds <= 60.0 + GOP + FRAME
            assert record.end == records[n + 1].start, "a gap or overlap between segments"
        frees += top_level_boxes(probe.data).count(b"free")
    # ~100-300 kbit/s fills a 64 KiB chunk in several seconds: the loss bound needs filler.
    assert frees > 0
    assert rig.outages == []
    assert rig.recorder.status().timestamp_repairs == 0


def test_server_outage_becomes_one_gap_and_recording_resumes(
    record_kit: RecordKit, camera: RtspCamera, rigs: list[Rig]
) -> None:
    rig = Rig(record_kit, camera, "continuous", segment_seconds=10.0)
    rigs.append(rig)
    rig.wait_recording()
    time.sleep(12)
    killed = record_kit.clock.wall()
    camera.kill()
    time.sleep(10)
    camera.restart()
    back = record_kit.clock.wall()
    deadline = time.monotonic() + 20
    while not rig.outages or rig.outages[-1].end is None:
        assert time.monotonic() < deadline, f"no recovery: {rig.outages}"
        time.sleep(0.05)
    resumed = record_kit.clock.wall()
    online = rig.reader.health().since  # the reader's first packet of the new connection
    time.sleep(4)
    records = rig.stop()

    rows = gaps(record_kit.sessions, "cam")
    assert len(rows) == 1, rows
    gap = rows[0]
    assert gap.end is not None
    assert abs((gap.start - killed).total_seconds()) <= 2.0
    assert timedelta(0) <= gap.end - back <= resumed - back + timedelta(seconds=0.5)
    # The recorder's share of the recovery: footage resumes within 2 s of the reader's
    # reconnect; and the reader retries at least every second while an outage is young
    # (FAST_RETRY_CAP), so footage resumes about 2 s after the server is back. The issue
    # asks for 2 s; 1 s of slack keeps a loaded CI machine from failing a correct build.
    assert timedelta(seconds=-0.5) <= gap.end - online <= timedelta(seconds=2)
    assert gap.end - back <= timedelta(seconds=3), f"resumed {gap.end - back} after restart"

    before = [r for r in records if r.start < gap.start]
    after = [r for r in records if r.start >= gap.start]
    assert before
    assert after
    assert before[-1].end == gap.start, "footage before the outage was cut short"
    assert after[0].start == gap.end
    for record in records:
        check_segment(record_kit, record)
    for a, b in itertools.pairwise(before):
        assert a.end == b.start
    # Everything up to the kill is on disk (what was in flight inside the server is not).
    assert (killed - before[-1].end).total_seconds() <= 1.5
    print(
        f"footage resumed {(after[0].start - back).total_seconds():.1f} s after the restart,"
        f" {(after[0].start - online).total_seconds():.2f} s after the reconnect"
    )


def test_events_mode_clip_contains_the_pre_roll(
    record_kit: RecordKit, camera: RtspCamera, rigs: list[Rig]
) -> None:
    pre, post = 3.0, 3.0
    rig = Rig(record_kit, camera, "events", pre_roll=pre, post_roll=post)
    rigs.append(rig)
    time.sleep(8)  # connect and fill the pre-roll
    assert record_kit.store.all_records() == []  # nothing is written without a trigger
    when: datetime = record_kit.clock.wall()
    rig.recorder.trigger(when)
    rig.wait_recording(5)
    time.sleep(post + GOP + 2)
    records = rig.stop()
    assert len(records) == 1, records
    record = records[0]
    check_segment(record_kit, record)
    assert record.end is not None
    assert record.start <= when - timedelta(seconds=pre) + timedelta(seconds=GOP)
    assert record.start >= when - timedelta(seconds=pre + GOP + 1.0)
    assert when + timedelta(seconds=post) <= record.end <= when + timedelta(seconds=post + 2 * GOP)
