"""The checkpoint schedule: the pure decision, then the checkpointer on a real box."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.audit.note import open_checkpoint
from nvr.audit.schedule import (
    HOURLY,
    AuditCheckpointer,
    checkpoint_due,
    is_release_kind,
    run_checkpoints,
)
from nvr.clock import FakeClock
from nvr.config import parse_config_text
from nvr.service.box import Box, open_box

T0 = 1000.0


@pytest.mark.parametrize(
    ("kind", "release"),
    [
        ("request.create", True),
        ("consent.decline", True),
        ("export.done", True),
        ("share.access", True),
        ("login.success", False),
        ("playback.start", False),
        ("requests.bogus", False),  # a family is the whole first word, not a prefix of it
        ("share", False),
    ],
)
def test_release_kinds(kind: str, release: bool) -> None:
    assert is_release_kind(kind) is release


def test_nothing_new_is_never_due() -> None:
    assert not checkpoint_due(None, 0, 0, T0, set())
    assert not checkpoint_due(T0, 5, 5, T0 + 10 * HOURLY, set())
    # Even a release kind recorded before the latest checkpoint is not "new".
    assert not checkpoint_due(T0, 5, 5, T0 + 1, {"share.create"})


def test_hourly_when_something_was_logged() -> None:
    kinds = {"login.success", "playback.start"}
    assert not checkpoint_due(T0, 5, 9, T0 + 1, kinds)
    assert not checkpoint_due(T0, 5, 9, T0 + HOURLY - 0.001, kinds)
    assert checkpoint_due(T0, 5, 9, T0 + HOURLY, kinds)
    assert checkpoint_due(T0, 5, 6, T0 + 5 * HOURLY, kinds)


def test_release_kinds_are_due_at_once() -> None:
    for kind in ("request.create", "consent.grant", "export.start", "share.revoke"):
        assert checkpoint_due(T0, 5, 7, T0 + 0.5, {"login.success", kind}), kind


def test_unknown_last_time_signs_anything_new() -> None:
    assert checkpoint_due(None, 0, 1, T0, {"service.start"})
    assert checkpoint_due(None, 4, 5, T0, {"service.start"})


def test_a_clock_that_went_back_does_not_stall_the_schedule() -> None:
    assert checkpoint_due(T0, 5, 6, T0 - 1, {"login.success"})


def test_the_interval_is_a_parameter() -> None:
    assert checkpoint_due(T0, 0, 1, T0 + 60, {"x.y"}, every=60)
    assert not checkpoint_due(T0, 0, 1, T0 + 59, {"x.y"}, every=60)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def box(tmp_path: Path, clock: FakeClock) -> Iterator[Box]:
    cfg = parse_config_text(f"storage:\n  data_dir: {tmp_path / 'data'}\n", "nvr.yaml")
    opened = open_box(cfg, clock)
    yield opened
    opened.close()


def size_of(box: Box, note: str | None) -> int:
    assert note is not None
    return open_checkpoint(note, box.origin, [box.audit.verifier]).size


def test_checkpointer_follows_the_schedule(box: Box, clock: FakeClock) -> None:
    cp = AuditCheckpointer(box.audit, box.sessions, clock)
    assert cp.tick() is None  # empty log
    box.record("service.start", {"version": "1.0"})
    assert size_of(box, cp.tick()) == 1  # first tick after start: anything new is signed
    assert cp.tick() is None
    box.record("login.success", {"ip": "192.0.2.1"})
    clock.advance(HOURLY - 1)
    assert cp.tick() is None
    clock.advance(1)
    assert size_of(box, cp.tick()) == 2
    box.record("playback.start", {"segment": 1})
    box.record("share.create", {"recipient": "Bob"})
    clock.advance(1)
    assert size_of(box, cp.tick()) == 4  # a release: at once
    clock.advance(10 * HOURLY)
    assert cp.tick() is None  # nothing new
    assert box.audit.verify().checkpoints == 3


def test_a_checkpoint_signed_elsewhere_restarts_the_hour(box: Box, clock: FakeClock) -> None:
    cp = AuditCheckpointer(box.audit, box.sessions, clock)
    box.record("service.start", {"version": "1.0"})
    assert cp.tick() is not None
    clock.advance(HOURLY / 2)
    box.record("login.success", {})
    box.audit.checkpoint()  # e.g. 'nvr audit checkpoint'
    assert cp.tick() is None
    box.record("login.success", {})
    clock.advance(HOURLY / 2 + 1)  # an hour since our own, half an hour since theirs
    assert cp.tick() is None
    clock.advance(HOURLY / 2)
    assert size_of(box, cp.tick()) == 3


def test_run_checkpoints_signs_and_stops(box: Box) -> None:
    box.record("consent.grant", {"request": 1})

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_checkpoints(box, stop, interval=0.01))
        for _ in range(500):
            if box.audit.verify().checkpoints:
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    result = box.audit.verify()
    assert result.ok
    assert result.checkpoints == 1


def test_run_checkpoints_survives_a_refusal(
    box: Box, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    box.record("service.start", {"version": "1.0"})
    box.audit.checkpoint()
    db = sqlite3.connect(tmp_path / "data" / "nvr.sqlite3")
    with db:
        db.execute("UPDATE audit_entries SET entry_json = replace(entry_json, '1.0', '6.6')")
    db.close()
    box.record("share.create", {"recipient": "Bob"})

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_checkpoints(box, stop, interval=0.01))
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())
    failures = [r for r in caplog.records if "audit checkpoint failed" in r.getMessage()]
    assert len(failures) == 1  # logged once, not every tick
    assert "refusing to sign" in failures[0].getMessage()
    assert box.audit.verify().checkpoints == 1
