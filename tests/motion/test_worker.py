"""The live motion worker with real streams: the demo doorbell over RTSP playing synthetic
scenes (a visitor walks up, stays and leaves; an empty porch), and packets of an encoded
clip put into a subscription by hand where the test needs to choose the moment (a
reconnect in the middle of an event)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from nvr.capture import CapturedPacket, StreamInfo, StreamReader, Subscription
from nvr.clock import SystemClock
from nvr.config import MotionConfig
from nvr.demo.rtsp_server import DemoDoorbell
from nvr.demo.scene import make_scene
from nvr.motion.detector import DetectorSettings
from nvr.motion.events import EventRules
from nvr.motion.types import Box, MotionEvent
from nvr.motion.worker import (
    MotionWorker,
    WallMap,
    event_details,
    sample_boxes,
    skip_mode,
    thumbnail_jpeg,
)
from tests.support.footage import SyntheticClipFactory

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class Calls:
    """A MotionSink that remembers what it was told (and can be made slow)."""

    starts: list[datetime] = field(default_factory=list)
    motions: list[datetime] = field(default_factory=list)
    ends: list[tuple[dict[str, Any], bytes | None]] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)
    block_on_start: float = 0.0

    def on_start(self, camera: str, when: datetime) -> None:
        self.starts.append(when)
        time.sleep(self.block_on_start)

    def on_motion(self, camera: str, when: datetime) -> None:
        self.motions.append(when)

    def on_end(self, camera: str, details: dict[str, Any], thumbnail: bytes | None) -> None:
        self.ends.append((details, thumbnail))
        self.ended.set()


def make_worker(sub: Subscription, calls: Calls, *, max_lag: float = 1.5) -> MotionWorker:
    motion = MotionConfig()
    return MotionWorker(
        "porch",
        sub,
        DetectorSettings.from_config(motion),
        EventRules.from_config(motion),
        SystemClock(),
        calls,
        max_lag=max_lag,
    )


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Live:
    bell: DemoDoorbell
    reader: StreamReader


@pytest.fixture
async def live_scene(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    """The demo doorbell playing ``request.param`` at 640x360, 10 fps, and a reader on it
    (not started)."""
    bell = DemoDoorbell(width=640, height=360, fps=10, gop_seconds=1.0, scene=request.param)
    await bell.start()
    reader = StreamReader("porch", bell.url, clock=SystemClock())
    yield Live(bell, reader)
    await asyncio.to_thread(reader.stop)
    await bell.stop()


def _check_event(details: dict[str, Any], thumbnail: bytes | None) -> None:
    assert details["type"] == "motion"
    start, end = details["start"], details["end"]
    assert start.tzinfo is not None
    assert start.utcoffset() == timedelta(0)
    assert start < end
    assert details["zones"] == ["all"]
    assert 0 < details["peak_score"] <= 1
    samples = details["boxes"]
    assert samples
    times = [datetime.fromisoformat(s["t"]) for s in samples]
    assert start <= times[0]
    assert times[-1] <= end
    assert all(b - a >= timedelta(seconds=0.99) for a, b in itertools.pairwise(times))
    for sample in samples:
        for x, y, w, h in sample["boxes"]:
            assert 0 <= x <= 1
            assert 0 <= y <= 1
            assert 0 < w <= 1
            assert 0 < h <= 1
    assert thumbnail is not None
    assert thumbnail.startswith(b"\xff\xd8\xff")
    picture = cv2.imdecode(np.frombuffer(thumbnail, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    assert picture.shape == (360, 640, 3)


@pytest.mark.parametrize("live_scene", ["visitor"], indirect=True)
async def test_a_visitor_is_one_event_with_a_thumbnail(live_scene: Live) -> None:
    calls = Calls()
    worker = make_worker(live_scene.reader.subscribe(64), calls)
    worker.start()
    live_scene.reader.start()
    try:
        await wait_until(lambda: calls.ended.is_set(), "the event to end", timeout=40)
        status = worker.status()
        assert status.state == "idle"
        assert status.events == 1
        assert status.fps is not None
        assert 4.0 <= status.fps <= 5.5
        assert status.decode_errors == 0
    finally:
        await asyncio.to_thread(worker.stop)
    assert len(calls.starts) == 1
    [(details, thumbnail)] = calls.ends
    _check_event(details, thumbnail)
    assert details["start"] == calls.starts[0] == status.last_event_at
    # A visitor is seconds long; motion frames are reported at most once a second.
    assert details["end"] - details["start"] >= timedelta(seconds=3)
    assert calls.motions
    gaps = [b - a for a, b in itertools.pairwise(calls.motions)]
    assert all(g >= timedelta(seconds=0.99) for g in gaps)
    assert details["start"] <= calls.motions[0]
    assert calls.motions[-1] <= details["end"]
    assert worker.status().state == "off"


@pytest.mark.parametrize("live_scene", ["static"], indirect=True)
async def test_an_empty_porch_is_no_event(live_scene: Live) -> None:
    calls = Calls()
    worker = make_worker(live_scene.reader.subscribe(64), calls)
    worker.start()
    live_scene.reader.start()
    try:
        await wait_until(lambda: (worker.status().fps or 0) > 4.0, "analysis to run", 15)
        await asyncio.sleep(5)
        status = worker.status()
    finally:
        await asyncio.to_thread(worker.stop)
    assert (calls.starts, calls.ends) == ([], [])
    assert status.state == "idle"
    assert status.events == 0


@pytest.mark.parametrize("live_scene", ["visitor"], indirect=True)
async def test_a_slow_worker_drops_its_own_packets_and_never_stalls_the_others(
    live_scene: Live,
) -> None:
    """A worker stuck for 3 s (here in its start callback) fills its small queue and then
    loses packets up to keyframes; the recorder's queue, read promptly, loses none."""
    reader = live_scene.reader
    recorder_sub = reader.subscribe(512)
    received: list[CapturedPacket] = []
    stop = threading.Event()

    def recorder() -> None:
        while not stop.is_set():
            try:
                received.append(recorder_sub.get(timeout=0.2))
            except Exception:  # noqa: S112 - queue.Empty or closed: poll again / end
                continue

    thread = threading.Thread(target=recorder)
    thread.start()
    calls = Calls(block_on_start=3.0)
    worker_sub = reader.subscribe(8)
    worker = make_worker(worker_sub, calls)
    worker.start()
    reader.start()
    try:
        await wait_until(lambda: bool(calls.starts), "motion to start", timeout=20)
        before = len(received)
        await asyncio.sleep(2.5)  # the worker is still blocked
        assert len(received) - before >= 15  # ~10 fps kept flowing to the recorder
        await wait_until(lambda: worker.status().dropped > 0, "the worker's queue to drop", 5)
        await wait_until(lambda: calls.ended.is_set(), "the event to end", timeout=40)
    finally:
        stop.set()
        await asyncio.to_thread(worker.stop)
        await asyncio.to_thread(thread.join)
    assert recorder_sub.dropped == 0
    assert worker.status().dropped > 0
    # After the stall it skipped to a keyframe and carried on: one whole event.
    assert len(calls.ends) == 1
    assert worker.status().decode_errors == 0


async def test_a_camera_reconnect_ends_the_open_event() -> None:
    """The camera drops the connection in the middle of a visit and comes back showing an
    empty porch: the event ends at its last frame before the drop."""
    bell = DemoDoorbell(width=640, height=360, fps=10, gop_seconds=1.0, scene="visitor")
    await bell.start()
    reader = StreamReader("porch", bell.url, clock=SystemClock())
    calls = Calls()
    worker = make_worker(reader.subscribe(64), calls)
    worker.start()
    reader.start()
    again: DemoDoorbell | None = None
    try:
        await wait_until(lambda: bool(calls.starts), "motion to start", timeout=20)
        await asyncio.sleep(1.0)
        await bell.stop()
        dropped_at = datetime.now(UTC)
        assert calls.ends == []
        again = DemoDoorbell(port=bell.port, width=640, height=360, fps=10, scene="static")
        await again.start()
        await wait_until(lambda: calls.ended.is_set(), "the flush", timeout=20)
        assert reader.health().reconnects >= 1
    finally:
        await asyncio.to_thread(reader.stop)
        await asyncio.to_thread(worker.stop)
        if again is not None:
            await again.stop()
    [(details, thumbnail)] = calls.ends
    _check_event(details, thumbnail)
    # Wall times follow the recorder's timeline, anchored at the first packet's arrival;
    # the doorbell sends its cached GOP (1 s) at connect, so they may run up to 1 s late.
    assert details["end"] <= dropped_at + timedelta(seconds=1.2)
    assert len(calls.starts) == 1


def _clip_packets(path: str) -> Iterator[tuple[av.Packet[Any], StreamInfo]]:
    with av.open(path) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        info = StreamInfo(1, ctx.name, ctx.width, ctx.height, stream.time_base, ctx.extradata)
        for packet in container.demux(stream):
            if packet.size:
                yield packet, info


def _put(
    sub: Subscription, packet: av.Packet[Any], info: StreamInfo, session: int, age: float = 0.0
) -> None:
    """Queue ``packet`` as if the reader had received it ``age`` seconds ago."""
    assert packet.pts is not None
    assert packet.time_base is not None
    when = T0 + timedelta(seconds=float(packet.pts * packet.time_base))
    info = StreamInfo(session, info.codec, info.width, info.height, info.time_base, info.extradata)
    cp = CapturedPacket(packet, bool(packet.is_keyframe), when, time.monotonic() - age, info)
    assert sub.put(cp)


async def test_a_worker_behind_skips_to_the_next_keyframe(
    synthetic_clip_factory: SyntheticClipFactory,
) -> None:
    """Packets that waited too long are not decoded up to the next keyframe (a skipped
    frame would leave the rest of its GOP without a reference): no decode error, no
    garbage frame taken for motion on an empty porch."""
    clip = synthetic_clip_factory("static", 6.0, width=640, height=360, gop_seconds=1.0)
    packets = list(_clip_packets(str(clip.path)))
    assert [i for i, (p, _) in enumerate(packets) if p.is_keyframe][:6] == [0, 10, 20, 30, 40, 50]
    sub = Subscription(maxsize=10_000)
    calls = Calls()
    worker = make_worker(sub, calls, max_lag=5.0)
    worker.start()
    try:
        for index, (packet, info) in enumerate(packets):
            stale = 31 <= index <= 45  # these sat in the queue for 10 s
            _put(sub, packet, info, session=1, age=10.0 if stale else 0.0)
        await wait_until(lambda: sub.qsize() == 0, "the packets to be read", 30)
        await asyncio.sleep(0.3)
        status = worker.status()
    finally:
        await asyncio.to_thread(worker.stop)
    # 31..39 skipped up to keyframe 40 (decoded); 41..45 stale again: skipped to 50.
    assert status.skipped == 9 + 9
    assert status.decode_errors == 0
    assert (calls.starts, calls.ends) == ([], [])


async def test_a_reconnect_ends_the_open_event(
    synthetic_clip_factory: SyntheticClipFactory,
) -> None:
    """Session 1 stops in the middle of the visit; the first packet of session 2 ends the
    open event at its last analysed frame, before the quiet period could."""
    clip = synthetic_clip_factory("visitor", 12.0, width=640, height=360, gop_seconds=1.0)
    inside = [i for i, t in enumerate(clip.truths) if t.motion]
    cut = inside[0] + 40  # four seconds into the visit
    packets = list(_clip_packets(str(clip.path)))
    sub = Subscription(maxsize=10_000)
    calls = Calls()
    worker = make_worker(sub, calls, max_lag=3600.0)  # packets are put faster than real time
    worker.start()
    try:
        for packet, info in packets[:cut]:
            _put(sub, packet, info, session=1)
        await wait_until(lambda: sub.qsize() == 0, "session 1 to be analysed", 30)
        await asyncio.sleep(0.3)
        assert worker.status().state == "motion"
        assert len(calls.starts) == 1
        assert calls.ends == []
        packet, info = packets[0]  # a keyframe, as a new connection starts with
        _put(sub, packet, info, session=2)
        await wait_until(lambda: calls.ended.is_set(), "the flush", timeout=10)
    finally:
        await asyncio.to_thread(worker.stop)
    [(details, thumbnail)] = calls.ends
    _check_event(details, thumbnail)
    last_put = T0 + timedelta(seconds=(cut - 1) / 10)
    assert details["end"] <= last_put
    assert details["end"] >= last_put - timedelta(seconds=0.5)


async def test_stopping_ends_the_open_event(synthetic_clip_factory: SyntheticClipFactory) -> None:
    clip = synthetic_clip_factory("visitor", 12.0, width=640, height=360, gop_seconds=1.0)
    inside = [i for i, t in enumerate(clip.truths) if t.motion]
    sub = Subscription(maxsize=10_000)
    calls = Calls()
    worker = make_worker(sub, calls, max_lag=3600.0)
    worker.start()
    for packet, info in list(_clip_packets(str(clip.path)))[: inside[0] + 30]:
        _put(sub, packet, info, session=1)
    await wait_until(lambda: sub.qsize() == 0, "the packets to be analysed", 30)
    await asyncio.sleep(0.3)
    assert worker.status().state == "motion"
    await asyncio.to_thread(worker.stop)
    assert len(calls.ends) == 1
    assert worker.status().state == "off"


# --- pure parts ---------------------------------------------------------------------


def test_box_samples_are_at_most_one_a_second_and_bounded() -> None:
    b = (Box(0.1, 0.1, 0.2, 0.2),)
    boxes = [(i / 5, b) for i in range(50)]  # 10 s at 5 fps
    sampled = sample_boxes(boxes)
    assert [t for t, _ in sampled] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    long = [(i / 5, b) for i in range(5 * 3600)]  # an hour of motion
    assert len(sample_boxes(long, limit=100)) <= 100
    assert sample_boxes([]) == []


def test_event_details_are_the_sealed_record() -> None:
    event = MotionEvent(
        start=10.0,
        end=12.5,
        peak_score=0.123456,
        boxes=[(10.0, (Box(0.1, 0.2, 0.3, 0.4),)), (10.2, ()), (11.0, (Box(0.5, 0.5, 0.1, 0.1),))],
        zones={"path", "door"},
    )
    details = event_details(event, WallMap(10.0, T0))
    assert details == {
        "type": "motion",
        "start": T0,
        "end": T0 + timedelta(seconds=2.5),
        "peak_score": 0.1235,
        "boxes": [
            {"t": T0.isoformat(), "boxes": [[0.1, 0.2, 0.3, 0.4]]},
            {"t": (T0 + timedelta(seconds=1)).isoformat(), "boxes": [[0.5, 0.5, 0.1, 0.1]]},
        ],
        "zones": ["door", "path"],
    }


def test_non_reference_frames_are_skipped_only_well_above_the_analysis_rate() -> None:
    assert skip_mode(None, 5.0) == "DEFAULT"
    assert skip_mode(10.0, 5.0) == "DEFAULT"
    assert skip_mode(15.0, 5.0) == "NONREF"
    assert skip_mode(30.0, 5.0) == "NONREF"


def test_thumbnails_are_at_most_640_wide_and_never_upscaled() -> None:
    big = av.VideoFrame.from_ndarray(np.zeros((1080, 1920, 3), np.uint8), format="bgr24")
    small = av.VideoFrame.from_ndarray(np.zeros((180, 320, 3), np.uint8), format="bgr24")
    for frame, shape in ((big, (360, 640, 3)), (small, (180, 320, 3))):
        jpeg = thumbnail_jpeg(frame)
        assert jpeg is not None
        picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None
        assert picture.shape == shape


def _encode_with_b_frames(path: Path, seconds: float, fps: int) -> None:
    """The visitor scene as a camera with B-frames sends it (non-reference B-frames)."""
    scene = make_scene("visitor", width=640, height=360, fps=fps)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.options = {"preset": "veryfast", "x264-params": "bframes=2:b-pyramid=none"}
        for index in range(round(seconds * fps)):
            image, _ = scene.render(index)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


async def test_a_fast_stream_is_decoded_without_its_non_reference_frames(tmp_path: Path) -> None:
    path = tmp_path / "b-frames.mp4"
    _encode_with_b_frames(path, 12.0, fps=30)
    sub = Subscription(maxsize=10_000)
    calls = Calls()
    worker = make_worker(sub, calls, max_lag=3600.0)
    worker.start()
    try:
        for packet, info in _clip_packets(str(path)):
            _put(sub, packet, info, session=1)
        await wait_until(lambda: sub.qsize() == 0, "the packets to be read", 30)
        await asyncio.sleep(0.3)
        status = worker.status()
    finally:
        await asyncio.to_thread(worker.stop)
    assert status.skip_frame == "NONREF"
    assert status.decode_errors == 0
    assert status.fps is not None
    assert 4.0 <= status.fps <= 5.5  # what is left still covers the analysis rate
    assert len(calls.starts) == 1
    [(details, thumbnail)] = calls.ends
    _check_event(details, thumbnail)
