"""``nvr motion eval`` as a user sees it: figures, one-line errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nvr.cli import main
from nvr.demo.encode import encode_clip
from nvr.demo.scene import make_scene


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A short clip of someone walking past, with its truth CSV."""
    folder = tmp_path_factory.mktemp("eval")
    scene = make_scene("walk_past", width=320, height=180, fps=10, seed=4)
    video = folder / "walk.mp4"
    truths = encode_clip(scene, video, 6.0)
    truth = folder / "truth.csv"
    rows = [f"{t.index},{int(t.motion)}" for t in truths]
    truth.write_text("frame,motion\n" + "\n".join(rows) + "\n")
    return video, truth, len(truths)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["motion", "eval", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_eval_prints_the_figures(
    clip: tuple[Path, Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    video, truth, frames = clip
    code, out, err = run(capsys, str(video), "--truth", str(truth))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{video}: {frames} frames, {frames // 2} analysed"
    assert lines[1].startswith("frames: precision ")
    assert "events: 1 of 1 found (recall 1.000)" in lines[2]
    assert lines[3] == "produced: 1 events, 0 false"


def test_bad_truth_is_one_line_naming_file_and_line(
    clip: tuple[Path, Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video, _truth, _frames = clip
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,motion\n0,0\n1,maybe\n")
    code, out, err = run(capsys, str(video), "--truth", str(bad))
    assert code == 1
    assert out == ""
    assert err.splitlines() == [f"nvr: error: {bad}:3: motion must be 0 or 1, got 'maybe'"]


def test_truth_of_another_length(
    clip: tuple[Path, Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video, _truth, frames = clip
    short = tmp_path / "short.csv"
    short.write_text("frame,motion\n" + "".join(f"{i},0\n" for i in range(10)))
    code, _out, err = run(capsys, str(video), "--truth", str(short))
    assert code == 1
    assert err.splitlines() == [
        f"nvr: error: {short} has rows for 10 frames but {video} has {frames}",
        "nvr: hint: give every frame of the video a row",
    ]


def test_not_a_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    truth = tmp_path / "t.csv"
    truth.write_text("frame,motion\n0,0\n")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    code, _out, err = run(capsys, str(text), "--truth", str(truth))
    assert code == 1
    assert err.startswith(f"nvr: error: cannot open video {text}")
    assert "Traceback" not in err


def test_camera_settings_from_the_config(
    clip: tuple[Path, Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video, truth, _frames = clip
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "cameras:\n"
        "  - name: porch\n"
        "    main_url: rtsp://192.0.2.10/main\n"
        "    motion:\n"
        "      masks:\n"
        "        - name: everything\n"
        "          points: [[0, 0], [1, 0], [1, 1], [0, 1]]\n"
    )
    # The whole picture is masked: the walker is found no more.
    code, out, err = run(
        capsys, str(video), "--truth", str(truth), "--config", str(config), "--camera",
        "porch", "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    figures = json.loads(out)
    assert figures["events"] == 0
    assert figures["event_recall"] == 0.0
    code, _out, err = run(
        capsys, str(video), "--truth", str(truth), "--config", str(config), "--camera", "door"
    )
    assert code == 1
    assert err.splitlines() == [
        "nvr: error: no camera named 'door' in the config",
        "nvr: hint: cameras: porch",
    ]
    code, _out, err = run(capsys, str(video), "--truth", str(truth), "--config", str(config))
    assert code == 1
    assert err.startswith("nvr: error: --config needs --camera")
