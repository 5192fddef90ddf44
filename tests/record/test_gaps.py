"""Outage reports become rows of the gaps table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nvr.record import GapLog, Outage, gaps
from tests.record.conftest import RecordKit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_an_open_outage_is_closed_in_place(record_kit: RecordKit) -> None:
    log = GapLog(record_kit.sessions, record_kit.clock)
    log(Outage("cam", T0, None, "no_packets"))
    rows = gaps(record_kit.sessions, "cam")
    assert [(r.start, r.end, r.reason) for r in rows] == [(T0, None, "no_packets")]
    end = T0 + timedelta(seconds=12)
    log(Outage("cam", T0, end, "no_packets"))
    rows = gaps(record_kit.sessions, "cam")
    assert [(r.start, r.end) for r in rows] == [(T0, end)]


def test_a_complete_outage_is_one_row_per_camera(record_kit: RecordKit) -> None:
    log = GapLog(record_kit.sessions, record_kit.clock)
    log(Outage("a", T0, T0 + timedelta(seconds=3), "reconnect"))
    log(Outage("b", T0, None, "disk_full"))
    log(Outage("a", T0 + timedelta(seconds=60), T0 + timedelta(seconds=61), "reconnect"))
    assert len(gaps(record_kit.sessions, "a")) == 2
    assert [r.end for r in gaps(record_kit.sessions, "b")] == [None]
    assert gaps(record_kit.sessions, "nobody") == []
