"""``nvr motion tune``: synthetic clips (truth known) and a real RTSP camera in, annotated
MP4 out; user mistakes give one line and exit 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from nvr.cli import main
from nvr.config import MotionConfig
from nvr.motion.analysis import analyse_file
from nvr.motion.detector import DetectorSettings
from nvr.motion.events import EventRules
from nvr.motion.frames import RateGate
from nvr.motion.tune import GRAPH_HEIGHT, ZONE_COLOR, output_size
from tests.support.footage import SyntheticClipFactory
from tests.support.rtsp_server import RtspCamera

Run = Callable[..., tuple[int, str, str]]
Image = npt.NDArray[np.uint8]
W, H, FPS = 320, 180, 10


@pytest.fixture(autouse=True)
def _no_config_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # ./config/nvr.yaml is on the default search path: run where there is none.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NVR_CONFIG", raising=False)


@pytest.fixture
def nvr(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def frames_of(path: Path) -> list[Image]:
    with av.open(str(path)) as container:
        return [
            np.ascontiguousarray(f.to_ndarray(format="bgr24"), dtype=np.uint8)
            for f in container.decode(video=0)
        ]


def box_pixels(image: Image) -> int:
    """Pixels of the box colour (magenta) in the picture part (not the graph strip)."""
    picture = image[: image.shape[0] - GRAPH_HEIGHT].astype(np.int16)
    b, g, r = picture[..., 0], picture[..., 1], picture[..., 2]
    return int(np.count_nonzero((b > 170) & (r > 170) & (g < 90)))


def analysed_indices(count: int, fps: int, rate: float = 5.0) -> list[int]:
    gate = RateGate(rate)
    return [i for i in range(count) if gate.take(i / fps)]


def test_output_size_keeps_the_aspect_and_never_upscales() -> None:
    assert output_size(1920, 1080, 640) == (640, 360)
    assert output_size(320, 180, 640) == (320, 180)
    assert output_size(1280, 720, 500) == (500, 282)


def test_visitor_gets_boxes_where_the_truth_has_motion(
    nvr: Run, synthetic_clip_factory: SyntheticClipFactory, tmp_path: Path
) -> None:
    clip = synthetic_clip_factory("visitor", 8, width=W, height=H, fps=FPS)
    out = tmp_path / "tune.mp4"
    code, stdout, err = nvr("motion", "tune", str(clip.path), "--out", str(out))
    assert code == 0, err
    assert "warning" in err
    assert "plaintext" in err
    assert stdout.startswith(f"wrote {out}: ")

    annotated = frames_of(out)
    taken = analysed_indices(len(clip.truths), FPS)
    assert len(annotated) == len(taken) == 40
    assert {a.shape for a in annotated} == {(H + GRAPH_HEIGHT, W, 3)}
    source = frames_of(clip.path)
    assert all(box_pixels(np.vstack([s, s[:GRAPH_HEIGHT]])) == 0 for s in source)

    counts = [box_pixels(a) for a in annotated]
    # Boxes are drawn exactly on the frames where the live analysis found some ...
    motion = MotionConfig()
    analysis = analyse_file(
        clip.path, DetectorSettings.from_config(motion), EventRules.from_config(motion)
    )
    verdicts = [d.result for d in analysis.frames if d.analysed]
    assert [bool(r.boxes) for r in verdicts] == [c > 0 for c in counts], counts
    # ... which are where the visitor is: none before, on many frames while there.
    moving = [c for c, i in zip(counts, taken, strict=True) if clip.truths[i].motion]
    still = [c for c, i in zip(counts, taken, strict=True) if i < FPS]
    assert moving
    assert sum(c > 0 for c in moving) >= len(moving) / 3, counts
    assert still
    assert not any(still), counts
    # Where no box is drawn, the picture is the source's (plus the status text): the
    # annotation adds, it does not repaint.
    first = annotated[0][:H].astype(np.int16)
    assert np.median(np.abs(first - source[0].astype(np.int16))) <= 3


def test_static_scene_has_no_boxes_but_shows_zones_and_masks(
    nvr: Run, synthetic_clip_factory: SyntheticClipFactory, tmp_path: Path
) -> None:
    clip = synthetic_clip_factory("static", 3, width=W, height=H, fps=FPS)
    config = tmp_path / "nvr.yaml"
    config.write_text(
        f"storage:\n  data_dir: {tmp_path / 'data'}\n"
        "cameras:\n"
        "  - name: door\n"
        "    main_url: rtsp://127.0.0.1:9/none\n"
        "    motion:\n"
        "      zones:\n"
        "        - name: porch\n"
        "          points: [[0.2, 0.4], [0.8, 0.4], [0.8, 0.95], [0.2, 0.95]]\n"
        "      masks:\n"
        "        - points: [[0.0, 0.0], [0.15, 0.0], [0.15, 0.3], [0.0, 0.3]]\n"
    )
    out = tmp_path / "static.mp4"
    code, _, err = nvr(
        "motion", "tune", str(clip.path), "--out", str(out), "-c", str(config), "--camera", "door"
    )
    assert code == 0, err
    annotated = frames_of(out)
    assert len(annotated) == len(analysed_indices(len(clip.truths), FPS)) == 15
    assert all(box_pixels(a) == 0 for a in annotated)
    source = frames_of(clip.path)[0].astype(np.int16)
    last = annotated[-1][:H].astype(np.int16)
    zone = np.abs(last - np.array(ZONE_COLOR, np.int16)).max(axis=2) < 60
    assert np.count_nonzero(zone[int(H * 0.4) - 3 : int(H * 0.4) + 3]) > W * 0.4  # top edge
    masked = (slice(10, int(H * 0.3) - 4), slice(4, int(W * 0.15) - 4))
    assert np.abs(last[masked] - source[masked]).mean() > 20  # shaded
    outside = (slice(int(H * 0.5), int(H * 0.9)), slice(int(W * 0.3), int(W * 0.7)))
    assert np.abs(last[outside] - source[outside]).mean() < 4  # untouched


def test_seconds_limits_a_file(
    nvr: Run, synthetic_clip_factory: SyntheticClipFactory, tmp_path: Path
) -> None:
    clip = synthetic_clip_factory("static", 3, width=W, height=H, fps=FPS)
    out = tmp_path / "short.mp4"
    assert nvr("motion", "tune", str(clip.path), "--out", str(out), "--seconds", "1")[0] == 0
    assert len(frames_of(out)) == 5


def _one_error(err: str) -> str:
    """The one error line (a hint may follow; progress lines may precede)."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("nvr: error: ")]
    assert len(errors) == 1, err
    assert lines.index(errors[0]) >= len(lines) - 2, err  # last but an optional hint
    return errors[0].removeprefix("nvr: error: ")


def test_unknown_camera(nvr: Run, tmp_path: Path) -> None:
    code, _, err = nvr("motion", "tune", "front", "--out", str(tmp_path / "x.mp4"))
    assert code == 1
    assert _one_error(err) == "front: no such file, and no camera of that name"
    assert "the config has no cameras" in err


def test_unreadable_file(nvr: Run, tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    out = tmp_path / "x.mp4"
    code, _, err = nvr("motion", "tune", str(bad), "--out", str(out))
    assert code == 1
    assert _one_error(err).startswith(f"cannot open video {bad}")
    assert not out.exists()


def test_missing_file_path(nvr: Run, tmp_path: Path) -> None:
    code, _, err = nvr("motion", "tune", "clips/none.mp4", "--out", str(tmp_path / "x.mp4"))
    assert code == 1
    assert _one_error(err) == "cannot read clips/none.mp4: no such file"


def test_output_folder_missing(
    nvr: Run, synthetic_clip_factory: SyntheticClipFactory, tmp_path: Path
) -> None:
    clip = synthetic_clip_factory("static", 3, width=W, height=H, fps=FPS)
    out = tmp_path / "nope" / "x.mp4"
    code, _, err = nvr("motion", "tune", str(clip.path), "--out", str(out))
    assert code == 1
    assert _one_error(err) == f"--out {out}: folder {out.parent} does not exist"


def test_refuses_the_data_directory(
    nvr: Run, synthetic_clip_factory: SyntheticClipFactory, tmp_path: Path
) -> None:
    clip = synthetic_clip_factory("static", 3, width=W, height=H, fps=FPS)
    data = tmp_path / "data"
    (data / "footage").mkdir(parents=True)
    config = tmp_path / "nvr.yaml"
    config.write_text(f"storage:\n  data_dir: {data}\n")
    out = data / "footage" / "x.mp4"
    code, _, err = nvr("motion", "tune", str(clip.path), "--out", str(out), "-c", str(config))
    assert code == 1
    assert "inside the data directory" in _one_error(err)
    assert not out.exists()


@pytest.mark.rtsp
def test_camera_by_name_reads_the_live_stream(
    nvr: Run, rtsp_camera: RtspCamera, tmp_path: Path
) -> None:
    config = tmp_path / "nvr.yaml"
    config.write_text(
        f"storage:\n  data_dir: {tmp_path / 'data'}\n"
        "cameras:\n"
        "  - name: door\n"
        f"    main_url: {rtsp_camera.url('/basic')}\n"
        "    username: viewer\n"
        "    password: basic-pass\n"
    )
    out = tmp_path / "live.mp4"
    code, stdout, err = nvr(
        "motion", "tune", "door", "--out", str(out), "-c", str(config), "--seconds", "2"
    )
    assert code == 0, err
    assert "basic-pass" not in stdout + err
    assert "main stream" in err
    annotated = frames_of(out)
    assert 8 <= len(annotated) <= 11  # 2 s at 5 fps, give or take the gate's phase
    assert {a.shape for a in annotated} == {(360 + GRAPH_HEIGHT, 640, 3)}


@pytest.mark.rtsp
def test_camera_with_wrong_password_is_one_line(
    nvr: Run, rtsp_camera: RtspCamera, tmp_path: Path
) -> None:
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "cameras:\n"
        "  - name: door\n"
        f"    main_url: {rtsp_camera.url('/basic')}\n"
        "    username: viewer\n"
        "    password: not-the-pass\n"
    )
    code, _, err = nvr(
        "motion", "tune", "door", "--out", str(tmp_path / "x.mp4"), "-c", str(config)
    )
    assert code == 1
    message = _one_error(err)
    assert message.startswith("camera door (rtsp://viewer:***@127.0.0.1:")
    assert "not-the-pass" not in err
