"""Retention decisions, as values in and values out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nvr.storage.retention import Retention, SegmentView, plan_retention

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
DEFAULT = Retention(continuous_days=14, event_days=30)


def seg(
    id_: int, age_days: float, size: int = 100, camera: str = "porch", **kw: bool
) -> SegmentView:
    end = NOW - timedelta(days=age_days)
    return SegmentView(id_, camera, end - timedelta(minutes=1), end, size, **kw)


def test_age_limits_differ_for_event_footage() -> None:
    segs = [seg(1, 15), seg(2, 15, event=True), seg(3, 31, event=True), seg(4, 1)]
    plan = plan_retention(segs, {}, DEFAULT, NOW, used_bytes=400, limit_bytes=None)
    assert plan.expired == [3, 1]
    assert plan.evicted == []
    assert plan.bytes_freed == 200


def test_zero_days_means_no_age_limit() -> None:
    plan = plan_retention([seg(1, 900)], {}, Retention(0, 0), NOW, used_bytes=100, limit_bytes=None)
    assert plan.delete == []


def test_per_camera_settings_override_the_default() -> None:
    segs = [seg(1, 3, camera="gate"), seg(2, 3, camera="porch")]
    plan = plan_retention(
        segs, {"gate": Retention(2, 2)}, DEFAULT, NOW, used_bytes=200, limit_bytes=None
    )
    assert plan.expired == [1]


def test_quota_evicts_oldest_continuous_first_then_events() -> None:
    segs = [seg(1, 5, event=True), seg(2, 4), seg(3, 3), seg(4, 2, event=True), seg(5, 1)]
    plan = plan_retention(segs, {}, DEFAULT, NOW, used_bytes=500, limit_bytes=250)
    # 250 bytes over: three continuous segments go before any event segment.
    assert plan.evicted == [2, 3, 5]
    assert plan.short_bytes == 0
    plan = plan_retention(segs, {}, DEFAULT, NOW, used_bytes=500, limit_bytes=150)
    assert plan.evicted == [2, 3, 5, 1]


def test_need_bytes_makes_room_for_the_next_write() -> None:
    segs = [seg(1, 2), seg(2, 1)]
    assert plan_retention(segs, {}, DEFAULT, NOW, used_bytes=200, limit_bytes=200).evicted == []
    plan = plan_retention(segs, {}, DEFAULT, NOW, used_bytes=200, limit_bytes=200, need_bytes=50)
    assert plan.evicted == [1]


def test_open_held_and_shared_footage_is_never_deleted() -> None:
    segs = [seg(1, 99, open=True), seg(2, 99, held=True), seg(3, 99, shared=True), seg(4, 0)]
    plan = plan_retention(segs, {}, DEFAULT, NOW, used_bytes=400, limit_bytes=50)
    assert plan.expired == []
    assert plan.evicted == [4]
    # Protected footage alone is over the limit: say by how much, so health can alarm.
    assert plan.short_bytes == 250


def test_expiry_counts_toward_the_quota() -> None:
    segs = [seg(1, 20), seg(2, 1), seg(3, 0)]
    plan = plan_retention(segs, {}, DEFAULT, NOW, used_bytes=300, limit_bytes=200)
    assert plan.expired == [1]
    assert plan.evicted == []
