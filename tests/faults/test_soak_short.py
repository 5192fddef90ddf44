"""``nvr bench soak`` for two minutes through the CLI: the real service, four demo cameras
recording with motion, three aiortc viewers in the run's own network namespace (root; none
otherwise), exports every 30 s. Checks the run completes, the report (table, verdict
lines, JSON) is well-formed, and the record path lost no packet: loss is a correctness
property. No timing, latency or memory figure is asserted (benchmarks are not tests)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nvr.bench import netns, soak
from nvr.cli import main

MINUTES = 2.0


def test_trend_is_a_least_squares_line() -> None:
    rising = soak.trend([(0.0, 100.0), (1800.0, 105.0), (3600.0, 110.0)])
    assert rising.slope_per_hour == pytest.approx(10.0)
    assert rising.r2 == pytest.approx(1.0)
    flat = soak.trend([(0.0, 5.0), (60.0, 5.0)])
    assert (flat.slope_per_hour, flat.r2) == (0.0, 1.0)
    noisy = soak.trend([(0.0, 0.0), (1.0, 10.0), (2.0, 0.0), (3.0, 10.0)])
    assert 0.0 < noisy.r2 < 0.5
    assert soak.latency([]).median_s is None
    assert soak.latency([3.0, 1.0, 2.0]) == soak.Latency(3, 2.0, 3.0, 3.0)


def test_short_soak_completes_with_no_record_path_loss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_run = soak.run

    def here(directory: Path, **kwargs: Any) -> soak.SoakResult:
        return real_run(tmp_path, **kwargs)

    monkeypatch.setattr(soak, "run", here)
    out = tmp_path / "soak.json"
    viewers = 3 if netns.unavailable_reason() is None else 0
    args = ["bench", "soak", "--minutes", str(MINUTES), "--export-every", "30"]
    assert main([*args, "--viewers", str(viewers), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "record path loss: ok: 0 of" in printed
    for criterion in ("memory:", "queues:", "event latency:", "exports:", "live viewers:"):
        assert criterion in printed
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "soak"
    result = doc["result"]
    assert [v["criterion"] for v in doc["verdicts"]] == [
        "record path loss", "memory", "queues", "event latency", "exports", "live viewers"
    ]  # fmt: skip
    assert result["errors"] == []
    assert result["cameras"] == 4
    assert result["packets_received"] > 0
    assert result["recorder_drops"] == 0  # the record path lost nothing
    assert result["gaps"] == 0
    assert result["segments"] > 0
    samples = result["samples"]
    assert len(samples) >= 10
    assert all(s["rss_bytes"] > 0 for s in samples)
    assert [s["t"] for s in samples] == sorted(s["t"] for s in samples)
    assert result["exports"]
    assert all(e["state"] == "done" for e in result["exports"])
    assert result["events_seen"] > 0  # the demo scenes' visitors move
    if viewers:
        assert len(result["viewer_frames"]) == viewers
        assert all(n > 0 for n in result["viewer_frames"])
    else:
        assert result["viewers_note"].startswith("skipped: ")
    assert [p.name for p in tmp_path.iterdir()] == ["soak.json"]  # the work folder is gone
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"{netns.NAME_PREFIX}-{os.getpid()}-" not in names  # and the namespace
