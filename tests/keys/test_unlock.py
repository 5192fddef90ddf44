"""Unlock sessions lock on idle, on age and on demand, and wipe what they held."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nvr.clock import FakeClock
from nvr.keys.unlock import Locked, UnlockSession


def make(clock: FakeClock, events: list[str]) -> tuple[UnlockSession[str], bytearray]:
    secret = bytearray(b"AGE-SECRET-KEY-1XYZ")
    session = UnlockSession(
        "identity",
        secret,
        clock=clock,
        idle_timeout=timedelta(minutes=10),
        max_age=timedelta(hours=1),
        on_lock=events.append,
    )
    return session, secret


def test_use_refreshes_the_idle_timer() -> None:
    clock, events = FakeClock(), list[str]()
    session, _ = make(clock, events)
    for _ in range(5):
        clock.advance(9 * 60)
        assert session.use() == "identity"
    assert events == []


def test_idle_timeout_locks_and_wipes() -> None:
    clock, events = FakeClock(), list[str]()
    session, secret = make(clock, events)
    clock.advance(10 * 60)
    with pytest.raises(Locked, match="idle"):
        session.use()
    assert secret == bytearray(len(secret))
    assert events == ["idle"]
    assert session.locked


def test_max_age_locks_even_when_in_use() -> None:
    clock, events = FakeClock(), list[str]()
    session, _ = make(clock, events)
    for _ in range(6):
        clock.advance(9 * 60)
        session.use()
    clock.advance(6 * 60)  # 60 minutes since unlock, last use 6 minutes ago
    with pytest.raises(Locked, match="expired"):
        session.use()
    assert events == ["expired"]


def test_wall_clock_jumps_do_not_matter() -> None:
    clock, events = FakeClock(), list[str]()
    session, _ = make(clock, events)
    clock.set_wall(clock.wall() + timedelta(days=3))
    assert session.use() == "identity"


def test_lock_is_idempotent_and_reports_once() -> None:
    clock, events = FakeClock(), list[str]()
    session, _ = make(clock, events)
    session.lock("logout")
    session.lock("shutdown")
    clock.advance(3600)
    session.check()
    assert events == ["logout"]
    with pytest.raises(Locked, match="logout"):
        session.use()
