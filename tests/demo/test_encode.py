"""H.264 encoding: clips decode as written, and the live encoder behaves like a camera."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nvr.clock import SystemClock
from nvr.demo.encode import LiveEncoder, encode_clip
from nvr.demo.rtp import parameter_sets
from nvr.demo.scene import make_scene


def test_encode_clip_decodes_with_the_right_shape_rate_and_gop(tmp_path: Path) -> None:
    scene = make_scene("visitor", width=320, height=180, fps=10, seed=2)
    path = tmp_path / "visitor.mp4"
    truths = encode_clip(scene, path, 4.0, gop_seconds=1.0)

    assert [t.index for t in truths] == list(range(40))
    assert truths == [scene.render(i)[1] for i in range(40)]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (320, 180)
        assert stream.average_rate == 10
        keyframes, pts = [], []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            assert packet.pts is not None
            assert packet.time_base is not None
            pts.append(packet.pts * packet.time_base)
            if packet.is_keyframe:
                keyframes.append(len(pts) - 1)
        assert keyframes == [0, 10, 20, 30]
        assert pts == [Fraction(i, 10) for i in range(40)]
        container.seek(0)
        frames = list(container.decode(stream))
    assert len(frames) == 40
    assert frames[0].format.name == "yuv420p"
    # What decodes is what was rendered (lossy, but close).
    decoded = frames[25].to_ndarray(format="bgr24").astype(float)
    rendered = scene.render(25)[0].astype(float)
    psnr = 10 * np.log10(255**2 / np.mean((decoded - rendered) ** 2))
    assert psnr > 30


def test_live_encoder_is_paced_camera_like_and_repeats_headers() -> None:
    scene = make_scene("demo", width=320, height=180, fps=10)
    encoder = LiveEncoder(scene, clock=SystemClock(), gop_seconds=0.5)
    stop = threading.Event()
    got = []
    for live in encoder.packets(stop):
        got.append(live)
        if len(got) == 12:
            stop.set()
    assert [g.packet.pts for g in got] == list(range(12))
    assert [g.truth.index for g in got] == list(range(12))
    keyframes = [i for i, g in enumerate(got) if g.packet.is_keyframe]
    assert keyframes == [0, 5, 10]
    for i, g in enumerate(got):
        # Every keyframe carries SPS and PPS, so a viewer can start at any of them.
        assert (parameter_sets(bytes(g.packet)) is not None) == (i in keyframes)
    # Capture instants follow the frame rate, on both clocks.
    steps = np.diff([g.monotonic for g in got])
    assert np.allclose(steps, 0.1)
    walls = [(g.wall - got[0].wall).total_seconds() for g in got]
    assert np.allclose(walls, [g.monotonic - got[0].monotonic for g in got])
