"""Retention on the real store: event footage is known only by camera and hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from nvr.clock import FakeClock
from nvr.crypto import X25519Identity
from nvr.storage.enforce import Retainer, RetentionSettings, hours_spanned
from nvr.storage.retention import Retention
from nvr.storage.sealed import EventStore
from tests.storage.conftest import make_store


def test_hours_spanned() -> None:
    t = datetime(2026, 1, 1, 10, 59, 30, tzinfo=UTC)
    assert hours_spanned(t, t + timedelta(seconds=60)) == [
        datetime(2026, 1, 1, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 11, tzinfo=UTC),
    ]


def test_segments_in_an_hour_with_an_event_are_kept_as_event_footage(tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    clock = FakeClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))
    store, _, sessions = make_store(tmp_path, identity, clock)
    events = EventStore(tmp_path, sessions, lambda: [identity.recipient()], clock)
    for hour in range(3):  # three hours of footage, one segment per hour
        seg = store.open_segment("porch", clock.wall())
        seg.write(b"v" * 1000)
        if hour == 1:
            events.add("porch", {"type": "doorbell", "start": clock.wall()}, None)
        clock.advance(600)
        seg.close(clock.wall())
        clock.advance(3000)
    clock.advance(20 * 86400)  # 20 days later: past 14 days continuous, within 30 for events
    retainer = Retainer(store, RetentionSettings(default=Retention(14, 30)))
    plan = retainer.run(clock.wall())
    assert len(plan.expired) == 2
    assert [r.seq for r in store.all_records()] == [1]
    sessions.kw["bind"].dispose()
