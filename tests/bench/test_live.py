"""``nvr.bench.live`` and ``nvr bench live`` at a tiny size (one trial, one viewer, short
phases): the real service, browser and namespace, figures well-formed. No timing is
asserted (benchmarks are not tests)."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from nvr.bench import live
from nvr.bench.netns import NAME_PREFIX
from nvr.cli import main
from tests.support.procs import require

pytestmark = pytest.mark.netns


def test_cpu_seconds_reads_a_processes_own_time() -> None:
    before = live.cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert live.cpu_seconds(os.getpid()) > before


def test_cli_refuses_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(live, "unavailable", lambda: "needs root: it creates a namespace")
    assert main(["bench", "live"]) != 0
    assert "needs root" in capsys.readouterr().err


def test_tiny_run_prints_the_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require(live.unavailable())
    real_run = live.run

    def tiny(directory: Path, **kwargs: Any) -> live.LiveResult:
        return real_run(tmp_path, **{**kwargs, "settle": 0.5})

    monkeypatch.setattr(live, "run", tiny)
    out = tmp_path / "live.json"
    args = ["bench", "live", "--viewers", "1", "--seconds", "2", "--trials", "1"]
    assert main([*args, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "page load -> first frame" in printed
    assert "service CPU per viewer" in printed
    figures = json.loads(out.read_text())["result"]
    assert figures["codec"] == "video/H264"
    assert len(figures["first_frame_ms"]) == 1
    assert figures["first_frame_ms"][0] > 0
    assert figures["viewers"] == 1
    assert math.isfinite(figures["cpu_per_viewer_percent"])
    assert figures["cpu_idle_percent"] > 0  # the demo doorbell's encoder runs in it
    assert [p.name for p in tmp_path.iterdir()] == ["live.json"]  # the work folder is gone
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"{NAME_PREFIX}-{os.getpid()}-" not in names  # and the namespace
