"""``nvr bench all``: the headline's rule on made-up record runs, and the command itself on
a subset (storage and motion at their smallest, the live view made unavailable) for the
shape of its table, JSON and Markdown. No timing is asserted (benchmarks are not tests)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from nvr.bench import live, motion, record, suite
from nvr.bench.machine import Disk, Machine
from nvr.cli import main

GIB = 2**30


def _machine(cpus: int = 4, ram: int = 4 * GIB, board: str | None = None) -> Machine:
    return Machine(
        cpu_model="Cortex-A72",
        logical_cpus=cpus,
        usable_cpus=cpus,
        cpu_features=(),
        ram_bytes=ram,
        os="Linux 6",
        arch="aarch64",
        python="CPython 3.11",
        python_openssl="OpenSSL 3",
        cryptography="44",
        cryptography_openssl="OpenSSL 3",
        disk=Disk("/tmp", "/", "/dev/mmcblk0p2", "ext4", None, False),
        board=board,
    )


def _run(cameras: int, per_stream: float, rss_mb: int, *, lost: int = 0) -> record.RunResult:
    return record.RunResult(
        cameras=cameras,
        connect_seconds=1.0,
        window_seconds=10.0,
        cpu_seconds=per_stream * cameras / 10,
        core_percent=per_stream * cameras,
        core_percent_per_stream=per_stream,
        server_core_percent=None,
        rss_start_bytes=100 * record.MB,
        rss_end_bytes=rss_mb * record.MB,
        rss_peak_bytes=rss_mb * record.MB,
        peak_reset=True,
        received=150 * cameras - lost,
        expected=150 * cameras,
        dropped=lost,
        short=0,
        reconnects=0,
        segments=cameras,
        bytes_written=cameras * record.MB,
        timestamp_repairs=0,
        zero_loss=lost == 0,
        playback_clip_seconds=4.0,
        playback_runs=(0.1,),
        playback_seconds=0.1,
        per_camera=(),
    )


def _record(*runs: record.RunResult) -> record.RecordResult:
    source = record.Source("clip.mp4", 1920, 1080, 15, 6.0, 2.0, 4_000_000, 4_000_000.0, True)
    targets = record.Targets(2.0, 16, 4, 150 * record.MB, 0.3)
    return record.RecordResult(source, 2.0, 10.0, runs, targets, True, True, True, True)


def test_headline_is_the_cpu_estimate_when_below_what_was_measured() -> None:
    rec = _record(_run(1, 10.0, 120), _run(4, 12.0, 150), _run(16, 15.0, 270))
    head = suite.headline(_machine(board="Raspberry Pi 4 Model B"), rec, motion_percent=5.0)
    # 4 cores x 70 % / (15 % recording at 16 cameras + 5 % motion) = 14 cameras
    assert head.cpu_bound == 14
    assert head.cameras_held == 14
    assert head.measured == 16
    assert head.per_camera_core_percent == pytest.approx(20.0)
    assert head.per_camera_rss_bytes == pytest.approx(10 * record.MB)
    assert head.ram_bound is not None
    assert head.ram_bound > head.cpu_bound
    assert head.text.startswith("How many 1080p cameras this box (Raspberry Pi 4 Model B) ")
    assert "holds: 14 (" in head.text


def test_headline_never_claims_more_than_was_measured() -> None:
    rec = _record(_run(1, 1.5, 120), _run(4, 1.2, 150))
    head = suite.headline(_machine(cpus=2), rec, motion_percent=None)
    assert head.cpu_bound == 116  # 2 x 70 / 1.2, extrapolated far beyond 4
    assert head.cameras_held == 4
    assert "holds: at least 4 (" in head.text
    assert "recording only, no motion" in head.text


def test_headline_stays_below_a_run_that_lost_packets() -> None:
    rec = _record(_run(1, 1.0, 120), _run(4, 1.0, 150), _run(16, 1.0, 270, lost=30))
    head = suite.headline(_machine(), rec, motion_percent=1.0)
    assert head.loss_bound == 4
    assert head.cameras_held == 4
    assert head.measured == 4
    assert "16 cameras lost packets" in head.text


def test_headline_without_the_record_part() -> None:
    head = suite.headline(_machine(), None, motion_percent=1.0)
    assert head.cameras_held is None
    assert "not measured" in head.text


def test_unknown_part_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown part"):
        suite.run(tmp_path, _machine(), only=["nope"])
    assert main(["bench", "all", "--only", "storage,nope"]) != 0


def test_quick_subset_prints_the_table_json_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    smallest = dataclasses.replace(
        suite.QUICK, storage_mib=1, storage_log_n=10, motion_passes=1, motion_repeat=1
    )
    monkeypatch.setattr(suite, "QUICK", smallest)
    real_motion = motion.run

    def tiny_motion(directory: Path, **kwargs: Any) -> motion.MotionResult:
        return real_motion(directory, **{**kwargs, "width": 160, "height": 90, "clip_seconds": 1})

    monkeypatch.setattr(motion, "run", tiny_motion)
    # As on a box without Chromium: the live view's rows say so, the command goes on.
    monkeypatch.setattr(live, "unavailable", lambda: "needs Debian's chromium at /usr/bin/chromium")
    work = tmp_path / "work"
    work.mkdir()
    json_out, md_out = tmp_path / "all.json", tmp_path / "all.md"
    argv = ["bench", "all", "--quick", "--only", "storage,motion,live", "--dir", str(work)]
    assert main([*argv, "--json", str(json_out), "--markdown", str(md_out)]) == 0

    printed = capsys.readouterr().out
    first = printed.splitlines()[0]
    assert first.startswith("How many 1080p cameras this box (")
    assert "not measured (the record part did not run)" in first
    assert "Machine: " in printed
    assert "cores usable" in printed
    for figure in ("raw cipher", "encrypted store write", "unlock (scrypt, logN 10)"):
        assert figure in printed
    assert "motion CPU per camera" in printed
    assert "skipped: needs chromium" in printed

    doc = json.loads(json_out.read_text())
    assert doc["benchmark"] == "all"
    assert doc["machine"]["usable_cpus"] >= 1
    result = doc["result"]
    assert result["mode"] == "quick"
    assert result["parts"] == ["storage", "motion", "live"]
    assert set(result["results"]) == {"storage", "motion"}
    assert result["skipped"]["live"].startswith("needs chromium")
    assert result["failed"] == {}
    rows = result["rows"]
    assert {row["part"] for row in rows} == {"storage", "motion", "live"}
    for row in rows:
        assert set(row) == {"part", "figure", "value", "meaning", "number", "unit", "status"}
        if row["status"] == "ok":
            assert isinstance(row["number"], float)
            assert row["meaning"]
        else:
            assert (row["part"], row["status"], row["number"]) == ("live", "skipped", None)
    assert sum(row["status"] == "skipped" for row in rows) == 2
    assert result["headline"]["cameras_held"] is None

    markdown = md_out.read_text().splitlines()
    assert markdown[0].startswith("### `nvr bench all --quick`: ")
    assert markdown[2].startswith("**How many 1080p cameras this box")
    table = [line for line in markdown if line.startswith("| ")]
    assert table[0] == "| part | figure | value | what it means |"
    assert len(table) == 1 + len(rows)
    assert all(line.count(" | ") == 3 for line in table)
    assert list(work.iterdir()) == []  # every part cleans up after itself
