"""``nvr.bench.record`` and ``nvr bench record``: one camera for a few seconds at a tiny
size, against the real GStreamer RTSP server; the figures are well-formed and consistent.
No timing is asserted (TESTING.md: benchmarks are not tests)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nvr.bench import document, record
from nvr.bench.machine import describe
from nvr.cli import main
from tests.support.procs import require


def test_loss_allows_half_a_second_of_frames() -> None:
    assert record.camera_lost(received=100, expected=100, fps=10) == 0
    assert record.camera_lost(received=95, expected=100, fps=10) == 0
    assert record.camera_lost(received=90, expected=100, fps=10) == 5
    assert record.camera_lost(received=110, expected=100, fps=10) == 0


def test_verdicts_are_none_for_counts_not_run() -> None:
    assert record.verdicts([]) == (None, None, None, None)


def test_bad_camera_counts_are_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "record", "--cameras", "0,x"]) == 1
    assert "--cameras" in capsys.readouterr().err


def test_one_tiny_camera_records_and_plays_back(tmp_path: Path) -> None:
    require(record.server_unavailable_reason())
    work = tmp_path / "work"
    work.mkdir()
    result = record.run(
        work,
        cameras=[1],
        seconds=3.0,
        segment_seconds=1.0,
        width=320,
        height=180,
        fps=10,
        bitrate=200_000,
        clip_file_seconds=2,
        clip_seconds=60.0,
        playback_repeat=2,
        cache=tmp_path / "cache",
    )
    assert list(work.iterdir()) == []  # its folder is removed
    source = result.source
    assert (source.width, source.height, source.fps, source.cached) == (320, 180, 10, False)
    assert Path(source.path).is_file()
    assert source.bitrate > 0
    [run] = result.runs
    assert run.cameras == 1
    assert len(run.per_camera) == 1
    assert run.window_seconds >= 3.0
    assert run.cpu_seconds >= 0
    assert run.core_percent == pytest.approx(run.core_percent_per_stream)
    assert run.expected == round(10 * run.window_seconds)
    assert run.received > 0
    assert run.reconnects >= 0
    assert run.dropped >= 0
    assert run.segments >= 1
    assert run.bytes_written > 0
    assert run.rss_end_bytes
    assert run.rss_peak_bytes
    assert run.rss_start_bytes
    assert run.rss_peak_bytes >= run.rss_end_bytes
    assert run.playback_clip_seconds is not None
    assert 0 < run.playback_clip_seconds <= 60
    assert len(run.playback_runs) == 2
    assert run.playback_seconds is not None
    assert result.cpu_met is not None
    assert result.playback_met is not None
    assert result.zero_loss_met is None
    assert result.rss_met is None
    doc = json.loads(json.dumps(document("record", result, describe(work), _now())))
    assert doc["benchmark"] == "record"
    assert doc["result"]["runs"][0]["per_camera"][0]["name"] == "cam00"
    assert dataclasses.asdict(result)["source"]["path"] == source.path


def _now() -> datetime:
    return datetime.now(UTC)
