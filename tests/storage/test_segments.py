"""The segment store against real files, a real index and real age encryption."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from nvr.crypto import CHUNK_SIZE, TruncatedError, decrypt
from tests.storage.conftest import StoreKit


def payload(n: int, seed: int = 1) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(n))


def test_write_close_read_back(kit: StoreKit) -> None:
    start = kit.clock.wall()
    seg = kit.store.open_segment("porch", start)
    data = payload(3 * CHUNK_SIZE + 1234)
    for i in range(0, len(data), 5000):  # bytes arrive packet by packet
        seg.write(data[i : i + 5000])
    rec = seg.close(start + timedelta(seconds=60))
    assert rec.state == "closed"
    assert rec.path.endswith(".age")
    path = kit.data_dir / rec.path
    assert rec.size == path.stat().st_size
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    [found] = kit.store.find("porch", start, start + timedelta(minutes=1))
    assert found == rec
    with kit.store.open_plaintext(found, [kit.identity]) as plain:
        assert plain.read() == data
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == rec.sha256


@pytest.mark.usefixtures("age_required")
def test_stock_age_cli_decrypts_a_segment(kit: StoreKit, tmp_path: Path) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    data = payload(CHUNK_SIZE * 2 + 17)
    seg.write(data)
    rec = seg.close(kit.clock.wall())
    key = tmp_path / "owner.key"
    key.write_text(kit.identity.to_string() + "\n")
    out = subprocess.run(
        ["age", "-d", "-i", str(key), str(kit.data_dir / rec.path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert out.stdout == data


def test_sequence_numbers_and_time_range_queries(kit: StoreKit) -> None:
    t0 = kit.clock.wall()
    recs = []
    for i in range(3):
        seg = kit.store.open_segment("porch", t0 + timedelta(minutes=i))
        seg.write(payload(100, i))
        recs.append(seg.close(t0 + timedelta(minutes=i + 1)))
    other = kit.store.open_segment("gate", t0)
    other.write(b"x")
    other.close(t0 + timedelta(minutes=1))
    assert [r.seq for r in recs] == [0, 1, 2]
    hits = kit.store.find("porch", t0 + timedelta(seconds=90), t0 + timedelta(seconds=150))
    assert [r.seq for r in hits] == [1, 2]
    assert kit.store.find("porch", t0 + timedelta(hours=1), t0 + timedelta(hours=2)) == []


def test_fsync_at_most_once_per_interval(kit: StoreKit, monkeypatch: pytest.MonkeyPatch) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    calls: list[int] = []
    real_fsync = os.fsync

    # Counting, not replacing: every fsync still reaches the disk.
    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    for _ in range(40):  # 40 x 0.1 s of a ~5 Mbit/s stream
        seg.write(payload(CHUNK_SIZE))
        kit.clock.advance(0.1)
    assert 3 <= len(calls) <= 4
    seg.close(kit.clock.wall())


def test_padding_seals_a_slow_chunk(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    seg.write(b"a" * 1000)
    size_before = seg.file.partial_path.stat().st_size
    kit.clock.advance(1.5)
    assert seg.unsealed_age() == pytest.approx(1.5)
    # The filler runs one byte past the chunk, so the chunk is sealed and on disk now,
    # without waiting for the next packet (a crash right after the pad loses nothing).
    assert seg.pad(lambda n: b"\0" * n) == CHUNK_SIZE - 1000 + 1
    assert seg.file.partial_path.stat().st_size > size_before
    assert seg.unsealed_age() == 0.0  # the filler left in the next chunk is not waiting
    kit.clock.advance(5)
    assert seg.unsealed_age() == 0.0
    assert seg.pad(lambda n: b"\0" * n) == 0  # no filler for filler
    seg.write(b"b")
    kit.clock.advance(1.5)
    assert seg.unsealed_age() == pytest.approx(1.5)
    rec = seg.close(kit.clock.wall())
    with kit.store.open_plaintext(rec, [kit.identity]) as plain:
        assert plain.read() == b"a" * 1000 + b"\0" * (CHUNK_SIZE - 999) + b"b"


def test_delete_unlinks_and_audits_one_batch(kit: StoreKit) -> None:
    recs = []
    for i in range(3):
        seg = kit.store.open_segment("porch", kit.clock.wall())
        seg.write(payload(10, i))
        recs.append(seg.close(kit.clock.wall()))
    freed = kit.store.delete([recs[0].id, recs[1].id], "quota")
    assert freed == recs[0].size + recs[1].size  # type: ignore[operator]
    assert not (kit.data_dir / recs[0].path).exists()
    assert (kit.data_dir / recs[2].path).exists()
    assert [r.id for r in kit.store.all_records()] == [recs[2].id]
    [(kind, entry)] = kit.audit
    assert kind == "retention.delete"
    assert entry["reason"] == "quota"
    assert [s["sha256"] for s in entry["segments"]] == [recs[0].sha256, recs[1].sha256]  # type: ignore[attr-defined]


def test_an_open_segment_is_never_deleted(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    with pytest.raises(ValueError, match="open segment"):
        kit.store.delete([seg.id], "quota")
    seg.close(kit.clock.wall())


def test_an_abandoned_segment_is_visibly_truncated(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    seg.write(payload(CHUNK_SIZE + 10))
    seg.file.abandon()
    with seg.file.partial_path.open("rb") as f, pytest.raises(TruncatedError):
        decrypt(f, [kit.identity])
