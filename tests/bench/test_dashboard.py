"""``nvr.bench.dashboard`` and ``nvr bench dashboard`` at a tiny size (one run, 30 s of
footage: enough for the Timeline's first chunk and the switch to the next): the real
service on 127.0.0.1 and the real browser, figures well-formed. No timing is asserted
(benchmarks are not tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nvr.bench import dashboard
from nvr.cli import main
from tests.support.procs import require


def test_spread_is_median_and_range() -> None:
    s = dashboard.spread([30.0, 10.04, 20.0])
    assert (s.median, s.low, s.high, s.runs) == (20.0, 10.0, 30.0, [30.0, 10.0, 20.0])


def test_cli_refuses_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(dashboard, "unavailable", lambda: "needs Debian's chromium")
    assert main(["bench", "dashboard"]) != 0
    assert "needs Debian's chromium" in capsys.readouterr().err


def test_tiny_run_prints_the_tables_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require(dashboard.unavailable())
    real_run = dashboard.run

    def here(directory: Path, **kwargs: Any) -> dashboard.DashboardResult:
        return real_run(tmp_path, **kwargs)

    monkeypatch.setattr(dashboard, "run", here)
    out = tmp_path / "dashboard.json"
    args = ["bench", "dashboard", "--repeat", "1", "--record-seconds", "30", "--no-live"]
    assert main([*args, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cold clip: click -> first frame" in printed
    assert "Timeline (/timeline)" in printed
    doc = json.loads(out.read_text())
    assert doc["benchmark"] == "dashboard"
    figures = doc["result"]
    assert [p["name"] for p in figures["pages"]] == ["Status", "Live", "Events", "Timeline"]
    for page in figures["pages"]:
        assert page["html_bytes"] > 0
        assert page["js_bytes"] > 0  # api.js and the page's module at least
        assert page["css_bytes"] > 0
        assert page["total_bytes"] == page["html_bytes"] + page["js_bytes"] + page["css_bytes"]
        assert page["offsite_requests"] == 0
        assert 0 < page["dom_content_loaded_ms"]["median"] <= page["load_ms"]["median"]
    [trial] = figures["trials"]
    assert trial["clip_seconds"] > 0
    assert trial["clip_bytes"] > 0
    # The order of events, not their speed: click, then src, then the first frame.
    assert 0 < trial["cold_click_to_src_ms"] < trial["cold_click_to_frame_ms"]
    assert trial["cold_click_to_loadeddata_ms"] <= trial["cold_click_to_frame_ms"]
    assert trial["seek_to_seeked_ms"] <= trial["seek_to_frame_ms"]
    # The page went on with the next chunk after the first (20 s) one ended.
    assert trial["clip_seconds"] >= dashboard.TIMELINE_FIRST_CHUNK_S - 1
    assert trial["chunk_switch_ms"] is not None
    assert trial["chunk_switch_media_s"] >= 0  # 0 only if the chunk began on a keyframe
    assert figures["chunk_switch_ms"]["runs"] == [trial["chunk_switch_ms"]]
    for key in ("cold_first_frame_ms", "warm_first_frame_ms", "seek_first_frame_ms"):
        assert len(figures[key]["runs"]) == 1
    assert figures["server_clip"]["bytes"] > 0
    assert figures["full_clip"]["seconds"] >= figures["server_clip"]["seconds"]
    assert figures["footage_seconds"] >= 30
    assert figures["first_frame_target_ms"] == 500
    assert figures["live"] is None  # --no-live
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard.json"]  # folder gone
