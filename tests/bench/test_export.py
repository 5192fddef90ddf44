"""``nvr bench export`` at a tiny size (seconds of 320x180, not minutes of 1080p): the
table prints, the JSON is well-formed and its figures agree with each other, the work
folder is removed. No timing is asserted (benchmarks are not tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nvr.bench import export
from nvr.cli import main


def test_cli_runs_a_tiny_export_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = export.run
    cache = tmp_path / "cache"

    def cached_here(directory: Path, **kwargs: Any) -> export.ExportResult:
        return real_run(directory, **{**kwargs, "cache": cache})  # not the system temp folder

    monkeypatch.setattr(export, "run", cached_here)
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "export.json"
    argv = ["bench", "export", "--seconds", "4", "--size", "320x180", "--fps", "5"]
    argv += ["--segment-seconds", "2", "--redact-seconds", "2", "--redact-sizes", "320x180"]
    assert main([*argv, "--dir", str(work), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "unredacted export of" in printed
    assert "x real time" in printed
    assert "redacted export" in printed
    assert "Load average before" in printed
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "export"
    assert doc["machine"]["usable_cpus"] >= 1
    figures = doc["result"]
    assert (figures["width"], figures["height"], figures["source_fps"]) == (320, 180, 5)
    u = figures["unredacted"]
    assert (u["clip_seconds"], u["frames"], u["segments"]) == (4.0, 20, 2)
    assert u["wall_seconds"] > 0
    assert abs(u["realtime"] - u["clip_seconds"] / u["wall_seconds"]) < 0.05 * u["realtime"]
    assert u["met"] is (u["realtime"] >= u["target_realtime"] == 50.0)
    assert u["zip_bytes"] > u["clip_bytes"] > 0  # the zip holds the clip and the rest
    [r] = figures["redacted"]
    assert (r["width"], r["height"], r["frames"]) == (320, 180, 10)
    assert r["fps"] > 0
    assert len(figures["load_before"]) == 3
    assert list(work.iterdir()) == []  # the box, footage and bundles are removed


def test_a_bad_size_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "export", "--size", "1080p"]) == 1
    assert "expected WIDTHxHEIGHT" in capsys.readouterr().err
