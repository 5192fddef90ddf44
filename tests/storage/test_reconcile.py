"""Start-up reconciliation: one test per row of the table in docs/design/storage.md."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from nvr.crypto import CHUNK_SIZE
from nvr.storage.layout import segment_path
from nvr.storage.reconcile import reconcile
from nvr.storage.writer import SegmentFile
from tests.storage.conftest import StoreKit


def test_nothing_to_do_on_a_clean_store(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    seg.write(b"frame")
    seg.close(kit.clock.wall())
    assert not reconcile(kit.store).changed


def test_crash_after_rename_before_the_row_update(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    seg.write(b"x" * 1000)
    closed = seg.file.close()  # steps 6-9 done, step 10 (row update) never happened
    report = reconcile(kit.store)
    assert report.recovered == [str(closed.relpath)]
    [rec] = kit.store.all_records()
    assert (rec.state, rec.path, rec.size, rec.sha256) == (
        "closed",
        str(closed.relpath),
        closed.size,
        closed.sha256,
    )
    with kit.store.open_plaintext(rec, [kit.identity]) as plain:
        assert plain.read() == b"x" * 1000


def test_crash_mid_segment_keeps_a_salvageable_truncated_file(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    seg.write(b"a" * (2 * CHUNK_SIZE + 5))  # two chunks sealed, the rest only in RAM
    seg.file.abandon()
    report = reconcile(kit.store)
    assert len(report.truncated) == 1
    [rec] = kit.store.all_records()
    assert rec.state == "truncated"
    assert rec.end is not None
    with kit.store.open_plaintext(rec, [kit.identity]) as plain:
        assert plain.read() == b"a" * (2 * CHUNK_SIZE)


def test_partial_without_a_row_is_indexed(kit: StoreKit) -> None:
    start = kit.clock.wall()
    rel = segment_path("gate", 7, start)
    f = SegmentFile.create(kit.data_dir, rel, [kit.identity.recipient()], kit.clock)
    f.write(b"b" * (CHUNK_SIZE + 1))
    f.abandon()
    report = reconcile(kit.store)
    assert report.indexed == [f"{rel}.partial"]
    [rec] = kit.store.all_records()
    assert (rec.camera, rec.seq, rec.start, rec.state) == ("gate", 7, start, "truncated")
    # The next segment of that camera continues after the recovered sequence number.
    nxt = kit.store.open_segment("gate", start + timedelta(minutes=1))
    assert nxt.file.relpath.name.startswith("gate-00000008-")
    nxt.close(kit.clock.wall())


def test_unexplained_files_are_quarantined_never_deleted(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    seg.write(b"keep me")
    rec = seg.close(kit.clock.wall())
    stray = kit.data_dir / "segments" / "porch" / "notes.txt"
    stray.write_text("who put this here?")
    orphan = kit.data_dir / segment_path("porch", 99, kit.clock.wall())
    orphan.write_bytes((kit.data_dir / rec.path).read_bytes())  # a closed file, no row
    report = reconcile(kit.store)
    assert sorted(report.quarantined) == sorted(
        [str(orphan.relative_to(kit.data_dir)), "segments/porch/notes.txt"]
    )
    moved = sorted(p.name for p in (kit.data_dir / "quarantine").rglob("*") if p.is_file())
    assert moved == sorted([orphan.name, "notes.txt"])
    assert (kit.data_dir / rec.path).exists()


def test_missing_and_corrupt_files_are_marked(kit: StoreKit) -> None:
    recs = []
    for i in range(2):
        seg = kit.store.open_segment("porch", kit.clock.wall())
        seg.write(bytes([i]) * 100)
        recs.append(seg.close(kit.clock.wall()))
    (kit.data_dir / recs[0].path).unlink()
    with Path(kit.data_dir / recs[1].path).open("ab") as f:
        f.write(b"junk")
    report = reconcile(kit.store)
    assert report.missing == [recs[0].path]
    assert report.corrupt == [recs[1].path]
    assert [r.state for r in kit.store.all_records()] == ["missing", "corrupt"]
    assert not reconcile(kit.store).changed  # idempotent


def test_a_missing_file_that_comes_back_is_trusted_only_if_it_is_the_same(
    kit: StoreKit, tmp_path: Path
) -> None:
    # The owner restores a backup, the service starts, then the segments are copied in.
    recs = []
    for i in range(3):
        seg = kit.store.open_segment("porch", kit.clock.wall())
        seg.write(bytes([i]) * 100)
        recs.append(seg.close(kit.clock.wall()))
    truncated = kit.store.open_segment("porch", kit.clock.wall())
    truncated.write(b"t" * (CHUNK_SIZE + 5))
    truncated.file.abandon()
    reconcile(kit.store)
    partial = kit.store.all_records()[3].path
    kept = tmp_path / "elsewhere"
    (kit.data_dir / "segments").rename(kept)
    assert reconcile(kit.store).missing == [r.path for r in recs] + [partial]
    kept.rename(kit.data_dir / "segments")
    other = kit.data_dir / recs[2].path
    other.write_bytes(other.read_bytes()[:-1] + b"\0")  # same size, other content
    report = reconcile(kit.store)
    assert report.returned == [recs[0].path, recs[1].path, partial]
    assert report.corrupt == [recs[2].path]
    states = [r.state for r in kit.store.all_records()]
    assert states == ["closed", "closed", "corrupt", "truncated"]
    with kit.store.open_plaintext(kit.store.all_records()[0], [kit.identity]) as plain:
        assert plain.read() == bytes([0]) * 100
    assert not reconcile(kit.store).changed
