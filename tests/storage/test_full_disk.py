"""A small real filesystem (size-limited tmpfs) filled to the brim while recording."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import cast

import pytest

from nvr.clock import FakeClock
from nvr.crypto import X25519Identity
from nvr.db.models import Hold
from nvr.storage.enforce import Retainer, RetentionSettings
from nvr.storage.retention import Retention
from tests.storage.conftest import make_store
from tests.support.small_fs import SmallFsFactory

SEGMENT_BYTES = 400 * 1024
PIECE = 50 * 1024


@pytest.fixture
def small_fs(small_fs_factory: SmallFsFactory) -> Path:
    return small_fs_factory(6)


def test_recording_continues_on_a_full_disk(small_fs: Path) -> None:
    identity = X25519Identity.generate()
    clock = FakeClock()
    audit: list[tuple[str, dict[str, object]]] = []
    store, _, sessions = make_store(small_fs, identity, clock, audit)
    retainer = Retainer(store, RetentionSettings(default=Retention(0, 0)))
    store.room_maker = lambda need: retainer.run(clock.wall(), need)
    t0 = clock.wall()
    with sessions.begin() as session:  # the owner holds the second minute of footage
        session.add(
            Hold(
                camera_id=None,
                start_time=t0 + timedelta(seconds=70),
                end_time=t0 + timedelta(seconds=80),
                reason="case 1",
                created_at=t0,
            )
        )
    written = []
    for i in range(40):  # 16 MB of footage onto a 6 MB filesystem
        seg = store.open_segment("porch", clock.wall())
        for j in range(SEGMENT_BYTES // PIECE):
            seg.write(bytes([i, j]) * (PIECE // 2))
        clock.advance(60)
        written.append(seg.close(clock.wall()))
    left = store.all_records()
    left_seqs = [r.seq for r in left]
    assert 1 in left_seqs, "the held segment was evicted"
    unheld = [s for s in left_seqs if s != 1]
    assert unheld == list(range(40 - len(unheld), 40)), "not the oldest footage first"
    assert len(unheld) >= 5
    batches = [
        cast(list[dict[str, str]], e["segments"]) for k, e in audit if k == "retention.delete"
    ]
    deleted = {s["sha256"] for batch in batches for s in batch}
    assert deleted == {r.sha256 for r in written if r.seq not in left_seqs}
    for rec in left:
        with store.open_plaintext(rec, [identity]) as plain:
            assert len(plain.read()) == SEGMENT_BYTES
    assert "storage_full" not in store.alarms
    sessions.kw["bind"].dispose()


def test_quota_keeps_footage_under_the_limit(tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    clock = FakeClock()
    store, _, sessions = make_store(tmp_path, identity, clock)
    quota = 2 * 1024 * 1024
    retainer = Retainer(store, RetentionSettings(default=Retention(14, 30), quota_bytes=quota))
    for _ in range(12):
        seg = store.open_segment("porch", clock.wall())
        seg.write(b"v" * SEGMENT_BYTES)
        clock.advance(60)
        seg.close(clock.wall())
        retainer.run(clock.wall())
        _, used = retainer.footage()
        assert used <= quota
    assert [r.seq for r in store.all_records()] == [7, 8, 9, 10, 11]
    sessions.kw["bind"].dispose()


def test_everything_held_raises_the_alarm(tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    clock = FakeClock()
    store, _, sessions = make_store(tmp_path, identity, clock)
    t0 = clock.wall()
    with sessions.begin() as session:
        session.add(
            Hold(
                camera_id=None,
                start_time=t0,
                end_time=t0 + timedelta(days=1),
                reason="everything",
                created_at=t0,
            )
        )
    retainer = Retainer(store, RetentionSettings(default=Retention(0, 0), quota_bytes=1000))
    seg = store.open_segment("porch", clock.wall())
    seg.write(b"v" * 5000)
    seg.close(clock.wall())
    plan = retainer.run(clock.wall())
    assert plan.delete == []
    assert "storage_full" in store.alarms
    sessions.kw["bind"].dispose()
