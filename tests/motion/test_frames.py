"""Frames: the luma plane read directly, the analysis rate gate, file decoding."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest

from nvr.demo.encode import encode_clip
from nvr.demo.scene import make_scene
from nvr.errors import UserError
from nvr.motion.detector import DetectorSettings
from nvr.motion.frames import RateGate, analysis_size, iter_file_frames, luma


def gray_pattern(h: int, w: int) -> npt.NDArray[np.uint8]:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.asarray((xx * 3 + yy * 5) % 256, np.uint8)


def test_analysis_size_keeps_aspect_and_even_width() -> None:
    assert analysis_size(640, 360, 180) == (320, 180)
    assert analysis_size(768, 576, 180) == (240, 180)
    assert analysis_size(1920, 1080, 180) == (320, 180)
    assert analysis_size(322, 180, 180) == (322, 180)
    assert analysis_size(320, 120, 180) == (320, 120)  # never upscaled


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj420p", "nv12", "rgb24", "bgr24"])
def test_luma_reads_the_brightness_of_any_format(fmt: str) -> None:
    # 322 wide: the decoder pads lines (line_size > width); the padding must not leak in.
    y = gray_pattern(180, 322)
    bgr = np.asarray(cv2.cvtColor(y, cv2.COLOR_GRAY2BGR), np.uint8)
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    frame = frame.reformat(format=fmt)
    out = luma(frame, 180)
    assert out.shape == (180, 322)
    assert out.dtype == np.uint8
    # Limited-range YUV formats store 16..235; a pattern in, the same pattern out.
    corr = np.corrcoef(out.ravel().astype(float), y.ravel().astype(float))[0, 1]
    assert corr > 0.99


def test_luma_scales_down_and_owns_its_memory() -> None:
    frame = av.VideoFrame.from_ndarray(np.full((360, 640, 3), 100, np.uint8), format="bgr24")
    frame = frame.reformat(format="yuv420p")
    small = luma(frame, 180)
    assert small.shape == (180, 320)
    same = luma(frame, 360)
    assert same.shape == (360, 640)
    # Copies, never views of the frame's buffer (decoders reuse it for the next frame).
    assert small.flags.owndata
    assert same.flags.owndata


def take_all(gate: RateGate, times: list[float]) -> list[float]:
    return [t for t in times if gate.take(t)]


def test_rate_gate_takes_every_nth_frame() -> None:
    taken = take_all(RateGate(5), [i / 15 for i in range(30)])
    assert taken == pytest.approx([i / 5 for i in range(10)])
    taken = take_all(RateGate(5), [i / 10 for i in range(20)])
    assert taken == pytest.approx([i / 5 for i in range(10)])


def test_rate_gate_odd_source_rate_keeps_the_average_rate() -> None:
    times = [i / 12 for i in range(120)]  # 10 s at 12 fps
    assert 48 <= len(take_all(RateGate(5), times)) <= 52


def test_rate_gate_slow_source_takes_everything_without_bursts() -> None:
    times = [i / 3 for i in range(9)]
    assert take_all(RateGate(5), times) == times


def test_rate_gate_survives_jumps_and_resets() -> None:
    gate = RateGate(5)
    assert gate.take(100.0)
    assert not gate.take(100.1)
    assert gate.take(3.0)  # timestamps went back: a new stream starts at once
    assert not gate.take(3.1)
    assert gate.take(500.0)  # a long gap: start afresh, no catching up
    assert not gate.take(500.1)
    assert gate.take(500.2)
    gate.reset()
    assert gate.take(500.25)
    with pytest.raises(ValueError, match="positive"):
        RateGate(0)


def test_iter_file_frames(tmp_path: Path) -> None:
    scene = make_scene("static", width=320, height=180, fps=10)
    path = tmp_path / "static.mp4"
    encode_clip(scene, path, 2.0)
    items = list(iter_file_frames(path, DetectorSettings(fps=5, analysis_height=90)))
    assert [i.index for i in items] == list(range(20))
    assert items[3].t == pytest.approx(0.3)
    analysed = [i for i in items if i.luma is not None]
    assert [i.index for i in analysed] == list(range(0, 20, 2))
    assert analysed[0].luma is not None
    assert analysed[0].luma.shape == (90, 160)


def test_iter_file_frames_bad_files(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"not a video at all" * 10)
    with pytest.raises(UserError, match="cannot open video"):
        list(iter_file_frames(bogus, DetectorSettings()))
    with pytest.raises(UserError, match="cannot open video"):
        list(iter_file_frames(tmp_path / "missing.mp4", DetectorSettings()))
