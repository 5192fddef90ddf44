"""Timestamp repair, wall-clock placement and clock-jump measurement (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

from nvr.record.timeline import TickRepair, WallAnchor, clock_jump

TB = Fraction(1, 90000)
STEP = 6000  # 15 fps


def run(repair: TickRepair, stamps: list[tuple[int | None, int | None]]) -> list[int]:
    return [repair.fix(pts, dts).dts for pts, dts in stamps]


def test_increasing_timestamps_pass_through() -> None:
    repair = TickRepair(TB)
    assert run(repair, [(t, t) for t in range(0, 5 * STEP, STEP)]) == list(range(0, 5 * STEP, STEP))
    assert repair.repairs == 0
    assert repair.step == STEP


def test_a_repeated_or_backward_dts_is_moved_one_frame_on_and_later_ones_follow() -> None:
    repair = TickRepair(TB)
    out = run(repair, [(0, 0), (STEP, STEP), (STEP, STEP), (2 * STEP, 2 * STEP), (0, 0)])
    assert out == [0, STEP, 2 * STEP, 3 * STEP, 4 * STEP]
    assert repair.repairs == 2


def test_a_leap_forward_beyond_max_jump_is_closed_up() -> None:
    repair = TickRepair(TB, max_jump=5.0)
    out = run(repair, [(0, 0), (STEP, STEP), (STEP + 90000 * 3600, STEP + 90000 * 3600)])
    assert out == [0, STEP, 2 * STEP]


def test_missing_timestamps_are_filled_and_pts_never_precedes_dts() -> None:
    repair = TickRepair(TB)
    assert repair.fix(0, 0).dts == 0
    assert repair.fix(STEP, None).dts == STEP  # dts from pts
    filled = repair.fix(None, None)
    assert filled.dts == 2 * STEP
    assert filled.pts == filled.dts
    assert repair.fix(STEP, 3 * STEP).pts == 3 * STEP


def test_b_frame_reordering_is_kept() -> None:
    repair = TickRepair(TB)
    got = [repair.fix(p, d) for p, d in [(2 * STEP, 0), (5 * STEP, STEP), (3 * STEP, 2 * STEP)]]
    assert [(t.pts, t.dts) for t in got] == [(2 * STEP, 0), (5 * STEP, STEP), (3 * STEP, 2 * STEP)]


def test_wall_anchor_maps_media_time() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    anchor = WallAnchor(TB, t0, 90000)
    assert anchor.at(90000 + 45000) == t0 + timedelta(seconds=0.5)
    assert anchor.drift(90000 + 90000, t0 + timedelta(seconds=4)) == -3.0


def test_clock_jump_is_wall_motion_beyond_monotonic_motion() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert clock_jump(t0, 10.0, t0 + timedelta(seconds=1), 11.0) == 0.0
    assert clock_jump(t0, 10.0, t0 + timedelta(hours=1), 10.1) > 3599
    assert clock_jump(t0, 10.0, t0 - timedelta(seconds=5), 10.1) < -5
