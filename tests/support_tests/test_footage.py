"""Synthetic clips match their ground truth, on disk and through the RTSP passthrough."""

from __future__ import annotations

import av
import numpy as np
import pytest

from nvr.demo.scene import FrameTruth, make_scene
from tests.support.footage import SyntheticClipFactory
from tests.support.rtsp_reader import read_frames
from tests.support.rtsp_server import Mount, RtspCameraFactory

# The visitor walks in at 1 s; 4 s shows them arriving. Small frames keep it quick.
VISITOR = {"name": "visitor", "seconds": 4.0, "width": 320, "height": 180, "fps": 10}


def box_mask(shape: tuple[int, ...], truth: FrameTruth) -> np.ndarray:
    mask = np.zeros(shape[:2], dtype=bool)
    for x, y, w, h in truth.boxes:
        mask[y : y + h, x : x + w] = True
    return mask


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse) if mse else float("inf")


def assert_consistent_with_truth(frames: list[np.ndarray], truths: list[FrameTruth]) -> None:
    """Motion frames differ from a static frame inside the truth boxes, hardly outside."""
    assert len(frames) == len(truths)
    assert [t.index for t in truths] == list(range(len(truths)))
    static = [i for i, t in enumerate(truths) if not t.motion]
    moving = [i for i, t in enumerate(truths) if t.motion]
    assert static
    assert moving
    reference = frames[static[0]].astype(np.int16)

    for i in static[1:]:
        assert np.abs(frames[i].astype(np.int16) - reference).mean() < 2.0, i
    for i in moving:
        diff = np.abs(frames[i].astype(np.int16) - reference).mean(axis=2)
        inside = box_mask(diff.shape, truths[i])
        if inside.sum() < 200:  # a sliver at the frame edge says little
            continue
        assert diff[inside].mean() > 10 * max(diff[~inside].mean(), 0.5), i


def test_clip_is_encoded_once_per_parameter_set(
    synthetic_clip_factory: SyntheticClipFactory,
) -> None:
    first = synthetic_clip_factory("static", 1.0, width=160, height=90)
    again = synthetic_clip_factory("static", 1.0, width=160, height=90)
    other_seed = synthetic_clip_factory("static", 1.0, width=160, height=90, seed=1)

    assert again.path == first.path
    assert again.truths == first.truths
    assert again.truths is not first.truths
    assert other_seed.path != first.path
    assert len(first.truths) == 10
    assert not any(t.motion for t in first.truths)


def test_clip_file_decodes_to_the_scene(synthetic_clip_factory: SyntheticClipFactory) -> None:
    clip = synthetic_clip_factory(**VISITOR)  # type: ignore[arg-type]
    scene = make_scene("visitor", width=320, height=180, fps=10)

    with av.open(str(clip.path)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]

    assert_consistent_with_truth(frames, clip.truths)
    for i in (0, len(frames) // 2, len(frames) - 1):
        assert psnr(frames[i], scene.render(i)[0]) > 30, i


@pytest.mark.rtsp
def test_visitor_clip_through_rtsp_passthrough_matches_truth(
    synthetic_clip_factory: SyntheticClipFactory, rtsp_camera_factory: RtspCameraFactory
) -> None:
    clip = synthetic_clip_factory(**VISITOR)  # type: ignore[arg-type]
    camera = rtsp_camera_factory([Mount("/visitor", source="file", file=clip.path)])

    frames = read_frames(
        camera.url("/visitor"), 1000, low_latency=False, pix_fmt="bgr24", timeout=10.0
    )

    assert_consistent_with_truth(frames, clip.truths)
