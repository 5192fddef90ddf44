"""``nvr.bench.storage`` and ``nvr bench storage`` at tiny sizes: the figures are
well-formed and consistent with each other. No timing is asserted (TESTING.md:
benchmarks are not tests)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nvr.bench import storage
from nvr.cli import main
from nvr.crypto import CHUNK_SIZE

STAGES = ["raw", "raw_write", "age", "store", "read", "raw_write_paced", "paced"]


def test_stage_figures_are_medians_scaled_to_a_stream_hour() -> None:
    s = storage.stage_figures("x", "x", 500_000_000, [4.0, 1.0, 2.0], [9.0, 0.5, 1.0])
    assert (s.wall_seconds, s.cpu_seconds) == (2.0, 1.0)
    assert s.mb_per_s == pytest.approx(250.0)
    assert s.cpu_seconds_per_gb == pytest.approx(2.0)
    assert s.cpu_seconds_per_stream_hour == pytest.approx(3.6)  # 1.8 GB an hour
    assert s.core_percent == pytest.approx(0.1)
    assert s.wall_runs == (4.0, 1.0, 2.0)


def test_segment_bounds_cover_the_plaintext_once() -> None:
    assert storage.segment_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert storage.segment_bounds(8, 4) == [(0, 4), (4, 8)]
    assert storage.STREAM_BYTES_PER_HOUR == 1_800_000_000


def test_ciphertext_bytes_adds_a_tag_per_64_kib_chunk() -> None:
    chunk = CHUNK_SIZE
    assert storage.ciphertext_bytes([(0, chunk)]) == chunk + 16
    assert storage.ciphertext_bytes([(0, chunk + 1), (chunk + 1, chunk + 2)]) == chunk + 2 + 48
    assert storage.ciphertext_bytes([]) == 0


def test_raw_write_writes_every_chunk_and_fsyncs_at_the_stream_rate(tmp_path: Path) -> None:
    plain = memoryview(bytes(1_000_000))  # 2 s of a 4 Mbit/s stream, in one file
    bounds = storage.segment_bounds(len(plain), len(plain))
    clock = storage.StreamClock()
    written, fsyncs = storage._raw_write(tmp_path, plain, bounds, clock, 1.0, clock)
    assert written == storage.ciphertext_bytes(bounds)
    assert [f.stat().st_size for f in tmp_path.iterdir()] == [written]
    assert fsyncs == 2  # after the 8th 64 KiB chunk (1.05 s), and at close


def test_stream_clock_moves_one_second_per_500_kb() -> None:
    clock = storage.StreamClock()
    start = clock.wall()
    clock.advance(250_000)
    clock.advance(250_000)
    assert clock.monotonic() == pytest.approx(1.0)
    assert (clock.wall() - start).total_seconds() == pytest.approx(1.0)


def test_run_reports_every_stage_and_cleans_up(tmp_path: Path) -> None:
    size = 1_000_003  # not a multiple of the packet, chunk or segment size
    lines: list[str] = []
    result = storage.run(
        tmp_path,
        size_bytes=size,
        repeat=2,
        segment_bytes=300_000,
        log_n=8,
        progress=lines.append,
    )
    assert [s.name for s in result.stages] == STAGES
    assert all(s.label == storage.LABELS[s.name] for s in result.stages)
    assert result.segments == 4
    assert result.repeat == 2
    for s in result.stages:
        assert s.plaintext_bytes == size
        assert len(s.wall_runs) == len(s.cpu_runs) == 2
        assert all(w > 0 for w in s.wall_runs)
        assert all(c >= 0 for c in s.cpu_runs)
        assert s.mb_per_s > 0
        assert math.isfinite(s.mb_per_s)
        assert s.cpu_seconds_per_stream_hour == pytest.approx(s.cpu_seconds_per_gb * 1.8)
    raw, store = result.stage("raw"), result.stage("store")
    assert result.store_vs_raw == pytest.approx(store.mb_per_s / raw.mb_per_s)
    raw_write = result.stage("raw_write")
    assert result.store_vs_raw_write == pytest.approx(store.mb_per_s / raw_write.mb_per_s)
    paced, raw_write_paced = result.stage("paced"), result.stage("raw_write_paced")
    assert result.paced_vs_raw_write_paced == pytest.approx(
        paced.mb_per_s / raw_write_paced.mb_per_s
    )
    # one fsync per file at close; a 300 kB segment is 0.6 s of a 4 Mbit/s stream, so the
    # paced baseline has no fsync in between (as the store's paced stage has none)
    assert len(result.raw_write_fsyncs) == 2
    assert all(n >= result.segments for n in result.raw_write_fsyncs)
    assert result.raw_write_paced_fsyncs == (4, 4)
    assert result.meets_target == (result.store_vs_raw >= 0.8)
    assert result.unlock.log_n == 8
    assert not result.unlock.calibrated
    assert len(result.unlock.runs) == 2
    assert result.unlock.seconds > 0
    assert lines
    assert list(tmp_path.iterdir()) == []  # the work folder is gone


def test_run_refuses_nonsense_sizes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        storage.run(tmp_path, size_bytes=0)


def test_cli_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "figures.json"
    work = tmp_path / "work"
    work.mkdir()
    argv = ["bench", "storage", "--megabytes", "1", "--repeat", "1", "--log-n", "8"]
    assert main([*argv, "--dir", str(work), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "store / raw cipher" in printed
    assert "unlock: logN 8 (given)" in printed
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "storage"
    assert doc["timestamp"]
    assert doc["machine"]["logical_cpus"] >= 1
    assert doc["machine"]["disk"]["path"] == str(work.resolve())
    assert [s["name"] for s in doc["result"]["stages"]] == STAGES
    assert doc["result"]["store_vs_raw_write"] > 0
    assert doc["result"]["plaintext_bytes"] == 2**20
    assert list(work.iterdir()) == []


def test_cli_missing_dir_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "storage", "--dir", str(tmp_path / "nope"), "--log-n", "8"]) == 1
    assert "nvr: error: --dir" in capsys.readouterr().err
