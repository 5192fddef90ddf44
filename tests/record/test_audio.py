"""Audio alongside video (``CameraConfig.audio``), against GStreamer's RTSP server with an
AAC track: the reader demuxes it only when asked, the recorder copies it into each
segment's MP4 as a second track, and segments are still cut on video keyframes."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator

import pytest

from nvr.capture import CapturedPacket, StreamReader, Subscription
from nvr.record import Recorder, RecordMode
from nvr.storage.segments import SegmentRecord
from tests.record.conftest import RecordKit
from tests.support.rtsp_server import Mount, RtspCamera, RtspCameraFactory

pytestmark = pytest.mark.rtsp

SAMPLE_RATE = 16000  # the test mount's AAC track: mono, 16 kHz, 1024 samples a frame


@pytest.fixture
def camera(rtsp_camera_factory: RtspCameraFactory) -> RtspCamera:
    return rtsp_camera_factory([Mount("/av", audio=True)])


@pytest.fixture
def g711_camera(rtsp_camera_factory: RtspCameraFactory) -> RtspCamera:
    return rtsp_camera_factory([Mount("/av", audio=True, audio_codec="pcmu")])


@pytest.fixture
def readers() -> Iterator[list[StreamReader]]:
    made: list[StreamReader] = []
    yield made
    for reader in made:
        reader.stop()


def collect(sub: Subscription, count: int, timeout: float = 20.0) -> list[CapturedPacket]:
    got: list[CapturedPacket] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, f"only {len(got)} packets"
        got.append(sub.get(timeout=deadline - time.monotonic()))
    return got


@pytest.mark.parametrize("audio", [False, True])
def test_reader_demuxes_audio_only_when_asked(
    record_kit: RecordKit, camera: RtspCamera, readers: list[StreamReader], audio: bool
) -> None:
    reader = StreamReader(
        "cam", camera.url("/av"), clock=record_kit.clock, open_timeout=10.0, audio=audio
    )
    readers.append(reader)
    sub = reader.subscribe(500)
    reader.start()
    packets = collect(sub, 80)
    kinds = {cp.kind for cp in packets}
    assert packets[0].kind == "video"
    if not audio:
        assert kinds == {"video"}
        assert all(cp.info.audio is None for cp in packets)
        return
    assert kinds == {"video", "audio"}
    sound = [cp for cp in packets if cp.kind == "audio"]
    assert not any(cp.keyframe for cp in sound), "audio never starts a GOP"
    info = sound[0].info.audio
    assert info is not None
    assert (info.codec, info.sample_rate, info.channels) == ("aac", SAMPLE_RATE, 1)
    assert info.extradata, "the AudioSpecificConfig from the SDP"
    assert all(cp.packet.stream.type == "audio" for cp in sound)
    assert all(cp.packet.stream.type == "video" for cp in packets if cp.kind == "video")


def streams(kit: RecordKit, record: SegmentRecord) -> dict[str, dict[str, object]]:
    path = kit.tmp / f"streams-{record.seq}.mp4"  # plaintext only ever in the test's tmp
    path.write_bytes(kit.plaintext(record))
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-count_packets", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {s["codec_type"]: s for s in json.loads(out.stdout)["streams"]}


def audio_times(kit: RecordKit, record: SegmentRecord) -> list[float]:
    path = kit.tmp / f"streams-{record.seq}.mp4"  # written by ``streams`` first
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-of",
            "json",
            "-select_streams",
            "a",
            "-show_packets",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(p["pts_time"]) for p in json.loads(out.stdout)["packets"]]


def record(
    kit: RecordKit,
    camera: RtspCamera,
    readers: list[StreamReader],
    audio: bool,
    mode: RecordMode = "continuous",
    seconds: float = 7.0,
) -> list[SegmentRecord]:
    """Record ``seconds`` of the ``/av`` mount (events mode: trigger, then 2 s more)."""
    reader = StreamReader("cam", camera.url("/av"), clock=kit.clock, audio=audio)
    readers.append(reader)
    recorder = Recorder(
        "cam", reader.subscribe(256), kit.store, kit.clock, mode=mode, segment_seconds=3.0
    )
    recorder.start()
    reader.start()
    if mode == "events":
        time.sleep(seconds)
        recorder.trigger()
        time.sleep(2.0)
    else:
        time.sleep(seconds)
    reader.stop()
    assert recorder.stop()
    assert recorder.status().errors == 0
    return [r for r in kit.store.all_records() if r.camera == "cam"]


@pytest.mark.parametrize("audio", [False, True])
def test_segments_carry_aac_audio_when_on(
    record_kit: RecordKit, camera: RtspCamera, readers: list[StreamReader], audio: bool
) -> None:
    records = record(record_kit, camera, readers, audio)
    assert len(records) >= 2, records  # cut on video keyframes, audio or not
    for rec in records:
        assert rec.end is not None
        found = streams(record_kit, rec)
        assert found["video"]["codec_name"] == "h264"
        probe = record_kit.probe(rec)
        assert probe.packets[0].keyframe
        if not audio:
            assert set(found) == {"video"}
            continue
        assert set(found) == {"video", "audio"}
        sound = found["audio"]
        assert sound["codec_name"] == "aac"
        assert int(str(sound["sample_rate"])) == SAMPLE_RATE
        seconds = (rec.end - rec.start).total_seconds()
        frames = int(str(sound["nb_read_packets"]))
        assert frames == pytest.approx(seconds * SAMPLE_RATE / 1024, rel=0.2, abs=4)
        times = audio_times(record_kit, rec)
        # On the video's timeline: starts with the segment, runs to its end, one frame apart.
        assert 0.0 <= times[0] < 0.2, times[:3]
        assert times[-1] == pytest.approx(seconds, abs=0.3)
        assert all(0 < b - a < 0.2 for a, b in itertools.pairwise(times))


def test_events_pre_roll_keeps_audio(
    record_kit: RecordKit, camera: RtspCamera, readers: list[StreamReader]
) -> None:
    records = record(record_kit, camera, readers, True, mode="events", seconds=6.0)
    assert records
    found = streams(record_kit, records[0])
    assert set(found) == {"video", "audio"}
    assert record_kit.probe(records[0]).packets[0].keyframe
    # The trigger came 6 s in: the clip starts with ~5 s of pre-roll, audio included.
    assert int(str(found["audio"]["nb_read_packets"])) > 4 * SAMPLE_RATE / 1024


def test_g711_audio_is_read_but_not_recorded(
    record_kit: RecordKit,
    g711_camera: RtspCamera,
    readers: list[StreamReader],
    caplog: pytest.LogCaptureFixture,
) -> None:
    reader = StreamReader("probe", g711_camera.url("/av"), clock=record_kit.clock, audio=True)
    readers.append(reader)
    sub = reader.subscribe(500)
    reader.start()
    sound = [cp for cp in collect(sub, 80) if cp.kind == "audio"]
    assert sound
    assert sound[0].info.audio is not None
    assert sound[0].info.audio.codec == "pcm_mulaw"
    reader.stop()

    records = record(record_kit, g711_camera, readers, True, seconds=4.0)
    assert records
    for rec in records:
        assert set(streams(record_kit, rec)) == {"video"}  # no stream copy of G.711 into MP4
    warnings = [r for r in caplog.records if "cannot be copied into MP4" in r.getMessage()]
    assert len(warnings) == 1, "warned once per recorder, not per packet"
