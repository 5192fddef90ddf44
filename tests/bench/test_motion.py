"""``nvr.bench.motion`` and ``nvr bench motion`` at a tiny size: the figures are
well-formed and consistent with each other. No timing is asserted (benchmarks are not
tests)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from nvr.bench import motion
from nvr.cli import main


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert motion.percentile(values, 0.9) == 9.0
    assert motion.percentile(values, 0.5) == 5.0
    assert motion.percentile([3.0], 0.9) == 3.0


def test_cameras_fit_in_the_budget_of_every_core() -> None:
    assert motion.cameras_fit(2, 10.0) == 140  # 2 cores x 700 ms/s / 10 ms/s
    assert motion.cameras_fit(4, 300.0, budget=0.5) == 6
    assert motion.cameras_fit(1, 800.0) == 0
    assert motion.cameras_fit(2, 0.0) == 0


def test_tiny_run_is_well_formed(tmp_path: Path) -> None:
    result = motion.run(
        tmp_path, width=160, height=90, source_fps=15, passes=2, repeat=1, clip_seconds=2, cpus=2
    )
    d, c = result.detector, result.camera
    assert (d.width, d.height) == (160, 90)  # the analysis height is capped by the source
    assert d.passes == 2
    assert d.frames > 0
    assert 0 < d.motion_frames < d.frames  # the visitor is seen, not all the time
    assert 0 < d.median_us <= d.p90_us
    assert d.mean_us > 0
    assert d.target_median_us == motion.TARGET_MEDIAN_US
    assert d.met == (d.median_us <= d.target_median_us)

    assert (c.width, c.height, c.source_fps, c.analysis_fps) == (160, 90, 15, 5.0)
    assert c.video_seconds == 2.0
    assert c.frames_decoded == 30
    assert c.frames_analysed == 10  # every third frame at 15 -> 5 fps
    assert c.bitrate_kbps > 0
    assert "skip_frame NONREF" in c.decoder  # as the live worker sets a 15 fps stream
    parts = (c.decode_ms_per_s, c.luma_ms_per_s, c.detect_ms_per_s)
    assert all(p > 0 for p in parts)
    assert c.total_ms_per_s == pytest.approx(sum(parts))  # one run: median of sums = sum
    assert c.core_percent == pytest.approx(c.total_ms_per_s / 10)
    assert result.usable_cpus == 2
    assert result.cameras_fit == motion.cameras_fit(2, c.total_ms_per_s, result.budget)
    assert list(tmp_path.iterdir()) == []  # the work folder is removed


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = motion.run

    def tiny(directory: Path, **kwargs: Any) -> motion.MotionResult:
        return real_run(directory, **{**kwargs, "width": 160, "height": 90, "clip_seconds": 1})

    monkeypatch.setattr(motion, "run", tiny)
    out = tmp_path / "motion.json"
    assert main(["bench", "motion", "--passes", "1", "--repeat", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Detector.process" in printed
    assert "total per camera" in printed
    assert "cameras with motion on" in printed
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "motion"
    assert doc["machine"]["usable_cpus"] >= 1
    figures = doc["result"]
    assert figures["usable_cpus"] == doc["machine"]["usable_cpus"]
    assert math.isfinite(figures["detector"]["median_us"])
    assert figures["camera"]["frames_decoded"] == 15
