"""The recorder fed packets by hand: what real cameras do that the test server will not.

Packets come from PyAV's own H.264 and H.265 encoders (Annex B, parameter sets in band,
no extradata, like a camera whose SDP has no ``sprop-parameter-sets``), put on a real
``Subscription`` with capture times from a ``FakeClock``.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from nvr.capture import CapturedPacket, StreamInfo, Subscription
from nvr.clock import FakeClock
from nvr.record import GapLog, Outage, Recorder, gaps
from nvr.record.fmp4 import free_box, parameter_sets
from nvr.storage.segments import SegmentStore
from tests.record.conftest import RecordKit, top_level_boxes
from tests.support.small_fs import SmallFsFactory

FPS = 10
TB = Fraction(1, 90000)
TICKS = 9000  # one frame at 10 fps, in RTP ticks


def encode(codec: str, frames: int) -> list[av.Packet[Any]]:
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width, ctx.height, ctx.pix_fmt = 160, 96, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = Fraction(FPS)
    ctx.gop_size = FPS
    if codec == "libx264":
        ctx.options = {"x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0:bframes=0"}
    else:
        ctx.options = {"x265-params": f"keyint={FPS}:min-keyint={FPS}:bframes=0:log-level=none"}
    packets: list[av.Packet[Any]] = []
    for n in range(frames):
        image = np.zeros((96, 160, 3), np.uint8)
        image[:, (n * 4) % 160 :] = 200
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = n
        packets += ctx.encode(frame)
    packets += ctx.encode(None)
    return packets


class Feed:
    def __init__(self, kit: RecordKit) -> None:
        self.clock = FakeClock()
        self.sub = Subscription(100_000)
        self.store = SegmentStore(
            kit.store.data_dir, kit.sessions, kit.store.recipients, self.clock
        )
        self.outages: list[Outage] = []
        self.log = GapLog(kit.sessions, self.clock)

    def on_gap(self, outage: Outage) -> None:
        self.outages.append(outage)
        self.log(outage)

    def put(
        self,
        packets: list[av.Packet[Any]],
        codec: str,
        session: int,
        *,
        dts0: int = 0,
        camera_offset: float | None = None,  # the camera's RTCP clock minus arrival
    ) -> None:
        info = StreamInfo(session, codec, 160, 96, TB, None)
        for n, pkt in enumerate(packets):
            pkt.pts = pkt.dts = dts0 + n * TICKS
            pkt.time_base = TB
            wall = self.clock.wall()
            camera = None if camera_offset is None else wall + timedelta(seconds=camera_offset)
            self.sub.put(
                CapturedPacket(
                    pkt,
                    bool(pkt.is_keyframe),
                    wall,
                    self.clock.monotonic(),
                    info,
                    camera_time=camera,
                )
            )
            self.clock.advance(1 / FPS)

    def run(self, **kw: Any) -> Recorder:
        recorder = Recorder("cam", self.sub, self.store, self.clock, on_gap=self.on_gap, **kw)
        self.sub.close()
        recorder.start()
        deadline = time.monotonic() + 30
        while recorder.status().state != "stopped":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert recorder.stop()
        return recorder


def codec_of(kit: RecordKit, data: bytes, name: str) -> str:
    path = kit.tmp / name
    path.write_bytes(data)
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name


def test_reconnect_with_a_codec_change_starts_a_new_segment_and_records_the_gap(
    record_kit: RecordKit,
) -> None:
    feed = Feed(record_kit)
    h264, hevc = encode("libx264", 30), encode("libx265", 30)
    start = feed.clock.wall()
    feed.put(h264, "h264", 1)
    lost = feed.clock.wall()
    feed.clock.advance(7)
    back = feed.clock.wall()
    feed.put(hevc, "hevc", 2, dts0=123_456)
    recorder = feed.run(segment_seconds=60)

    records = feed.store.all_records()
    assert len(records) == 2
    first, second = records
    assert (first.start, first.end) == (start, lost)
    assert (second.start, second.end) == (back, back + timedelta(seconds=3))
    assert [(o.start, o.end, o.reason) for o in feed.outages] == [(lost, back, "reconnect")]
    assert [(g.start, g.end) for g in gaps(record_kit.sessions, "cam")] == [(lost, back)]
    assert codec_of(record_kit, record_kit.plaintext(first), "a.mp4") == "h264"
    assert codec_of(record_kit, record_kit.plaintext(second), "b.mp4") == "hevc"
    for record in records:
        probe = record_kit.probe(record)
        assert len(probe.packets) == 30
        assert probe.packets[0].keyframe
    assert recorder.status().segments == 2
    assert recorder.status().gaps == 1  # what /metrics exports as porchlight_camera_gaps_total
    # The muxer's writes (a fragment at a time) and both closes were timed.
    snap = feed.store.stats("cam").snapshot()
    assert snap.count >= 2 + 2
    assert snap.buckets[-1] == snap.count
    plaintext = sum(len(record_kit.plaintext(r)) for r in records)
    assert 0 < snap.bytes_written <= plaintext


def test_packets_before_the_first_keyframe_are_skipped_and_bad_dts_repaired(
    record_kit: RecordKit,
) -> None:
    feed = Feed(record_kit)
    packets = encode("libx264", 40)
    feed.put(packets[5:8], "h264", 1)  # joined mid-GOP: no reference frame yet
    info = StreamInfo(1, "h264", 160, 96, TB, None)
    for n, pkt in enumerate(packets[10:]):
        pkt.pts = pkt.dts = 900_000 + n * TICKS
        if n == 12:
            pkt.pts = pkt.dts = 900_000 + 5 * TICKS  # the camera went backwards
        pkt.time_base = TB
        feed.sub.put(
            CapturedPacket(
                pkt, bool(pkt.is_keyframe), feed.clock.wall(), feed.clock.monotonic(), info
            )
        )
        feed.clock.advance(1 / FPS)
    recorder = feed.run(segment_seconds=60)
    [record] = feed.store.all_records()
    probe = record_kit.probe(record)
    assert len(probe.packets) == 30
    assert probe.packets[0].keyframe
    dts = [p.dts for p in probe.packets]
    assert all(b > a for a, b in itertools.pairwise(dts))
    assert recorder.status().timestamp_repairs >= 1
    assert feed.outages == []
    assert recorder.status().gaps == 0


def test_a_wall_clock_step_is_logged_and_the_next_segment_follows_it(
    record_kit: RecordKit, caplog: pytest.LogCaptureFixture
) -> None:
    feed = Feed(record_kit)
    packets = encode("libx264", 60)
    feed.put(packets[:30], "h264", 1)
    feed.clock.set_wall(feed.clock.wall() + timedelta(hours=1))  # NTP stepped the clock
    stepped = feed.clock.wall()
    feed.put(packets[30:], "h264", 1, dts0=30 * TICKS)
    recorder = feed.run(segment_seconds=2)
    assert recorder.status().clock_jumps == 1
    assert "wall clock jumped" in caplog.text
    records = feed.store.all_records()
    assert len(records) == 3
    assert records[-1].start == stepped + timedelta(seconds=1)  # re-anchored at the cut
    assert records[0].end == records[1].start


def test_free_box_and_parameter_sets() -> None:
    assert free_box(8) == b"\x00\x00\x00\x08free"
    assert top_level_boxes(free_box(65536)) == [b"free"]
    with pytest.raises(ValueError, match="free box"):
        free_box(7)
    key = bytes(encode("libx264", 1)[0])
    sets = parameter_sets("h264", key)
    assert sets is not None
    assert sets.startswith(b"\x00\x00\x00\x01\x67")  # SPS first
    assert b"\x00\x00\x00\x01\x68" in sets  # then PPS
    assert parameter_sets("h264", b"\x00\x00\x01\x65abc") is None
    assert parameter_sets("mjpeg", key) is None


@pytest.fixture
def small_fs(small_fs_factory: SmallFsFactory) -> Path:
    """A 4 MiB tmpfs for the footage (the index stays outside: only footage fills up)."""
    return small_fs_factory(4)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_full_disk_pauses_recording_as_a_gap_and_it_resumes_when_there_is_room(
    record_kit: RecordKit, small_fs: Path
) -> None:
    feed = Feed(record_kit)
    feed.store = SegmentStore(small_fs, record_kit.sessions, feed.store.recipients, feed.clock)
    record_kit.store = feed.store  # probe() reads from here
    recorder = Recorder(
        "cam", feed.sub, feed.store, feed.clock, on_gap=feed.on_gap, disk_full_pause=30
    )
    recorder.start()
    try:
        # 1 MiB of H.264 filler data (NAL type 12) per frame: 4 MiB of disk plus the store's
        # 32 MiB RAM backlog run out within ~4 s of footage.
        filler = b"\x00\x00\x00\x01\x0c" + b"\xff" * (1 << 20) + b"\x80"
        big = [av.Packet(bytes(p) + filler) for p in encode("libx264", 60)]
        for pkt, src in zip(big, encode("libx264", 60), strict=True):
            pkt.is_keyframe = src.is_keyframe
        feed.put(big, "h264", 1)
        wait_for(lambda: recorder.status().state == "paused", "the disk never filled")
        assert [o.reason for o in feed.outages] == ["disk_full"]
        [truncated] = feed.store.all_records()
        assert truncated.state == "truncated"
        feed.store.path_of(truncated).unlink()  # the owner (or retention) makes room
        feed.clock.advance(30)
        feed.put(encode("libx264", 20), "h264", 1, dts0=90 * TICKS)
        wait_for(lambda: feed.sub.qsize() == 0, "packets not consumed")
    finally:
        feed.sub.close()
        assert recorder.stop()
    status = recorder.status()
    assert status.state == "stopped"
    rows = gaps(record_kit.sessions, "cam")
    assert [(r.reason, r.end is not None) for r in rows] == [("disk_full", True)]
    closed = [r for r in feed.store.all_records() if r.state == "closed"]
    assert len(closed) == 1
    assert closed[0].start == rows[0].end
    assert len(record_kit.probe(closed[0]).packets) == 20


def test_a_silent_camera_is_an_open_gap_until_packets_flow_again(record_kit: RecordKit) -> None:
    feed = Feed(record_kit)
    recorder = Recorder("cam", feed.sub, feed.store, feed.clock, on_gap=feed.on_gap)
    recorder.start()
    try:
        packets = encode("libx264", 40)
        feed.put(packets[:20], "h264", 1)
        silent_from = feed.clock.wall()
        wait_for(lambda: feed.sub.qsize() == 0, "packets not consumed")
        feed.clock.advance(8)  # frozen: the connection stays up, nothing arrives
        wait_for(lambda: recorder.status().state == "outage", "silence not noticed")
        # The state flips first; the gap row follows from the recorder thread.
        wait_for(lambda: bool(gaps(record_kit.sessions, "cam")), "open gap not written")
        assert [(g.start, g.end) for g in gaps(record_kit.sessions, "cam")] == [(silent_from, None)]
        [first] = feed.store.all_records()
        assert first.end == silent_from  # closed at its last packet, not at detection
        back = feed.clock.wall()
        feed.put(packets[20:], "h264", 1, dts0=20 * TICKS)  # media time knows no pause
    finally:
        feed.sub.close()
        wait_for(lambda: recorder.status().state == "stopped", "recorder did not finish")
        assert recorder.stop()
    assert [(g.start, g.end, g.reason) for g in gaps(record_kit.sessions, "cam")] == [
        (silent_from, back, "no_packets")
    ]
    second = feed.store.all_records()[1]
    assert second.start == back


def test_a_camera_with_a_good_clock_is_timed_by_its_rtcp_reports(record_kit: RecordKit) -> None:
    feed = Feed(record_kit)
    arrival = feed.clock.wall()
    feed.put(encode("libx264", 20), "h264", 1, camera_offset=-0.4)  # 0.4 s of latency
    recorder = feed.run()
    [segment] = feed.store.all_records()
    assert segment.start == arrival - timedelta(seconds=0.4)
    status = recorder.status()
    assert status.clock_source == "rtcp"
    assert status.camera_clock_offset_s == pytest.approx(-0.4)


def test_a_camera_clock_hours_off_is_not_believed(
    record_kit: RecordKit, caplog: pytest.LogCaptureFixture
) -> None:
    feed = Feed(record_kit)
    arrival = feed.clock.wall()
    feed.put(encode("libx264", 20), "h264", 1, camera_offset=-3 * 3600.0)
    with caplog.at_level(logging.WARNING, logger="nvr.record.recorder"):
        recorder = feed.run()
    [segment] = feed.store.all_records()
    assert segment.start == arrival
    status = recorder.status()
    assert status.clock_source == "arrival"
    assert status.camera_clock_offset_s == pytest.approx(-10800.0)
    warnings = [r.getMessage() for r in caplog.records if "clock is" in r.getMessage()]
    assert warnings == [
        "recorder cam: the camera's clock is -10800 s off this box's; footage is timed by "
        "arrival instead"
    ]


def test_without_rtcp_footage_is_timed_by_arrival(record_kit: RecordKit) -> None:
    feed = Feed(record_kit)
    arrival = feed.clock.wall()
    feed.put(encode("libx264", 20), "h264", 1)
    recorder = feed.run()
    [segment] = feed.store.all_records()
    assert segment.start == arrival
    assert (recorder.status().clock_source, recorder.status().camera_clock_offset_s) == (
        "arrival",
        None,
    )
