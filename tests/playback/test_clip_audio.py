"""build_clip with the recorded audio: over segments carrying an AAC track as the recorder
writes it (the fixtures' noise track, where every frame's bytes and time are known), and
over a real recording of a live RTSP camera with AAC; checked with ffprobe and PyAV."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import pytest

from nvr.capture import StreamReader
from nvr.clock import SystemClock
from nvr.crypto import X25519Identity
from nvr.playback import audio as sound
from nvr.playback import build_clip
from nvr.record import Recorder
from tests.playback.conftest import CAMERA, FPS, FRAME, T0, AudioSource, Kit, write_segments
from tests.playback.test_clip import EVERY_3S, at, frames_of
from tests.storage.conftest import make_store
from tests.support.rtsp_server import Mount, RtspCameraFactory


@dataclass
class Track:
    codec: str
    time_base: Fraction
    start: float  # seconds
    duration: float
    pts: list[int]  # ticks of time_base, in file order
    durations: list[int]
    decoded: int  # frames that decode

    @property
    def end(self) -> float:
        return self.start + self.duration


def tracks(data: bytes, tmp_path: Path) -> dict[str, Track]:
    """The clip's tracks by type, as ffprobe sees a copy written by the test."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-count_frames", "-show_entries",
         "stream=index,codec_type,codec_name,time_base,start_time,duration,nb_read_frames"
         ":packet=stream_index,pts,duration", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    info = json.loads(result.stdout)
    found = {}
    for stream in info["streams"]:
        packets = [p for p in info["packets"] if p["stream_index"] == stream["index"]]
        found[stream["codec_type"]] = Track(
            stream["codec_name"],
            Fraction(stream["time_base"]),
            float(stream["start_time"]),
            float(stream["duration"]),
            [int(p["pts"]) for p in packets],
            [int(p["duration"]) for p in packets],
            int(stream["nb_read_frames"]),
        )
    return found


def audio_of(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def check_sync(clip_data: bytes, tmp_path: Path, video_frames: int) -> dict[str, Track]:
    """An AAC track as long as the video (within a frame), rising one frame at a time."""
    found = tracks(clip_data, tmp_path)
    assert set(found) == {"video", "audio"}
    video, audio = found["video"], found["audio"]
    assert audio.codec == "aac"
    assert len(video.pts) == video_frames
    assert (video.decoded, audio.decoded) == (len(video.pts), len(audio.pts))  # all decode
    frame = max(audio.durations) * audio.time_base
    assert abs(audio.start - video.start) <= frame
    assert abs(audio.end - video.end) <= frame
    assert abs(audio.duration - video.duration) <= frame
    steps = [b - a for a, b in itertools.pairwise(audio.pts)]
    assert all(step > 0 for step in steps), "audio timestamps rise, no frame twice"
    return found


@pytest.mark.parametrize(("start", "end"), [(2.5, 8.5), (1.5, 10.2), (0.0, 2.95)])
@pytest.mark.parametrize(
    ("overlap", "holes"),
    [(False, None), (True, None), (False, {1: 0.2, 3: 0.05})],  # short holes are bridged
)
def test_audio_across_segment_boundaries(
    kit: Kit,
    tmp_path: Path,
    audio_source: Callable[[int], AudioSource],
    start: float,
    end: float,
    overlap: bool,
    holes: dict[int, float] | None,
) -> None:
    source = audio_source(16000)
    write_segments(kit, EVERY_3S, overlap=overlap, holes=holes, audio=source)
    clip = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(start), T0 + at(end))
    assert (clip.audio, clip.audio_omitted) == ("aac", None)
    first_frame = int(start) * FPS  # keyframes every second
    found = check_sync(clip.data, tmp_path, clip.frames)
    assert frames_of(clip.data) == kit.source.packets[first_frame : first_frame + clip.frames]
    # Exactly the source's audio frames heard with those video frames, each once and at
    # its own time against the video: the bridged holes moved audio and video together.
    video_start = Fraction(first_frame, FPS)
    video_end = video_start + Fraction(clip.frames, FPS)
    first = source.frame_at(video_start)
    last = source.frame_at(video_end - Fraction(FRAME, 2 * source.rate))
    assert audio_of(clip.data) == source.packets[first:last]
    audio = found["audio"]
    assert audio.time_base == Fraction(1, source.rate)
    assert audio.pts == [k * FRAME - video_start * source.rate for k in range(first, last)]


def test_no_audio_when_not_asked(
    kit: Kit, tmp_path: Path, audio_source: Callable[[int], AudioSource]
) -> None:
    write_segments(kit, EVERY_3S[:4], audio=audio_source(16000))
    span = (T0 + at(2.5), T0 + at(8.5))
    with_audio = build_clip(kit.store, [kit.identity], CAMERA, *span)
    silent = build_clip(kit.store, [kit.identity], CAMERA, *span, audio=False)
    assert (silent.audio, silent.audio_omitted) == (None, sound.NOT_REQUESTED)
    assert set(tracks(silent.data, tmp_path)) == {"video"}
    assert frames_of(silent.data) == frames_of(with_audio.data)
    assert (silent.start, silent.end, silent.frames) == (
        with_audio.start,
        with_audio.end,
        with_audio.frames,
    )


def test_segments_with_and_without_audio(
    kit: Kit, tmp_path: Path, audio_source: Callable[[int], AudioSource]
) -> None:
    """Audio turned off and on again (or a G.711 camera, whose audio is not recorded):
    the clip still builds, video only, and says why."""
    aac = audio_source(16000)
    write_segments(kit, EVERY_3S[:4], audio=[aac, None, aac])
    mixed = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(1.5), T0 + at(7.5))
    assert (mixed.audio, mixed.audio_omitted) == (None, sound.NOT_EVERYWHERE)
    assert set(tracks(mixed.data, tmp_path)) == {"video"}
    assert frames_of(mixed.data) == kit.source.packets[10:75]
    assert len(mixed.segments) == 3
    # Within the segments that have it, the audio is there.
    whole = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(0.5), T0 + at(2.5))
    assert whole.audio == "aac"
    check_sync(whole.data, tmp_path, 25)
    later = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(3.5), T0 + at(5.5))
    assert (later.audio, later.audio_omitted) == (None, None)  # nothing recorded there


def test_audio_format_change_is_omitted(
    kit: Kit, tmp_path: Path, audio_source: Callable[[int], AudioSource]
) -> None:
    write_segments(kit, EVERY_3S[:3], audio=[audio_source(16000), audio_source(8000)])
    clip = build_clip(kit.store, [kit.identity], CAMERA, T0 + at(1.0), T0 + at(5.0))
    assert (clip.audio, clip.audio_omitted) == (None, sound.FORMAT_CHANGES)
    assert set(tracks(clip.data, tmp_path)) == {"video"}
    assert clip.frames == 40


@pytest.mark.rtsp
def test_real_recording_plays_back_with_its_audio(
    tmp_path: Path, rtsp_camera_factory: RtspCameraFactory
) -> None:
    """The recorder's own segments (3 s, from a live camera with AAC): the clip across
    their boundaries has the audio, continuous: one frame after another, no hole, no
    frame twice."""
    camera = rtsp_camera_factory([Mount("/av", audio=True)])
    identity = X25519Identity.generate()
    clock = SystemClock()
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    store, _, sessions = make_store(data_dir, identity, clock)  # type: ignore[arg-type]
    try:
        reader = StreamReader("cam", camera.url("/av"), clock=clock, audio=True)
        recorder = Recorder("cam", reader.subscribe(256), store, clock, segment_seconds=3.0)
        recorder.start()
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while len(store.all_records()) < 3 and time.monotonic() < deadline:
                time.sleep(0.25)  # two closed segments, the third open
            time.sleep(0.5)
        finally:
            reader.stop()
            assert recorder.stop()
        records = store.all_records()
        assert len(records) >= 3, records
        assert records[-1].end is not None
        # From the second segment on: its first instants of audio are in the first one.
        span = (records[1].start, records[-1].end)
        clip = build_clip(store, [identity], "cam", *span)
        assert clip.audio == "aac"
        assert len(clip.segments) == len(records) - 1
        audio = check_sync(clip.data, tmp_path, clip.frames)["audio"]
        frame = max(audio.durations)
        steps = [b - a for a, b in itertools.pairwise(audio.pts)]
        assert all(frame / 2 < step < frame * 3 / 2 for step in steps), steps
        silent = build_clip(store, [identity], "cam", *span, audio=False)
        assert set(tracks(silent.data, tmp_path)) == {"video"}
        assert silent.audio_omitted == sound.NOT_REQUESTED
    finally:
        sessions.kw["bind"].dispose()
