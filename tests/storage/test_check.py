"""Storage invariants: verify, the plaintext scan, reseal of truncated segments, stats."""

from __future__ import annotations

import shutil
from pathlib import Path

from nvr.crypto import CHUNK_SIZE
from nvr.demo.encode import encode_clip
from nvr.demo.scene import make_scene
from nvr.storage import check
from nvr.storage.reconcile import reconcile
from tests.storage.conftest import StoreKit


def record_clip(kit: StoreKit, clip: Path, pieces: int = 7) -> None:
    data = clip.read_bytes()
    seg = kit.store.open_segment("porch", kit.clock.wall())
    step = len(data) // pieces + 1
    for i in range(0, len(data), step):
        seg.write(data[i : i + step])
    kit.clock.advance(10)
    seg.close(kit.clock.wall())


def test_no_plaintext_at_rest_after_recording_a_synthetic_stream(
    kit: StoreKit, tmp_path: Path
) -> None:
    clip = tmp_path / "visitor.mp4"
    encode_clip(make_scene("visitor", width=320, height=180), clip, 6.0)
    assert list(check.scan_plaintext(clip.parent)), (
        "control: the scan must see the plaintext clip itself"
    )
    record_clip(kit, clip)
    record_clip(kit, clip)
    assert list(check.scan_plaintext(kit.data_dir)) == []
    # ... and the scan would have caught a stray plaintext copy or a JPEG.
    shutil.copy(clip, kit.data_dir / "segments" / "leak.mp4")
    (kit.data_dir / "thumb.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\0" * 100)
    found = {p.name for p, _ in check.scan_plaintext(kit.data_dir)}
    assert found == {"leak.mp4", "thumb.jpg"}


def test_verify_passes_then_names_a_flipped_byte(kit: StoreKit, tmp_path: Path) -> None:
    for i in range(2):
        seg = kit.store.open_segment("porch", kit.clock.wall())
        seg.write(bytes([i]) * (CHUNK_SIZE * 2 + 100))
        seg.close(kit.clock.wall())
    report = check.verify(kit.store, [kit.identity])
    assert report.ok
    assert (report.closed, report.truncated) == (2, 0)
    victim = kit.store.all_records()[1]
    path = kit.store.path_of(victim)
    data = bytearray(path.read_bytes())
    data[-50] ^= 1
    path.write_bytes(bytes(data))
    report = check.verify(kit.store, [kit.identity])
    assert report.problems == [f"porch #1 ({victim.path}): size or SHA-256 differs from the index"]


def test_reseal_turns_a_truncated_segment_into_a_complete_one(kit: StoreKit) -> None:
    seg = kit.store.open_segment("porch", kit.clock.wall())
    seg.write(b"z" * (CHUNK_SIZE * 3 + 10))
    seg.file.abandon()
    reconcile(kit.store)
    [rec] = kit.store.all_records()
    assert rec.state == "truncated"
    new = check.reseal(kit.store, rec, [kit.identity])
    assert new.state == "closed"
    assert not new.path.endswith(".partial")
    with kit.store.open_plaintext(new, [kit.identity]) as plain:
        assert plain.read() == b"z" * (CHUNK_SIZE * 3)
    assert check.verify(kit.store, [kit.identity]).ok
    kept = list((kit.data_dir / "quarantine").rglob("*.partial"))
    assert len(kept) == 1, "the original truncated file is kept"
    assert kit.audit[-1][0] == "storage.reseal"


def test_stats_from_the_index(kit: StoreKit) -> None:
    for camera in ("porch", "porch", "gate"):
        seg = kit.store.open_segment(camera, kit.clock.wall())
        seg.write(b"x" * 1000)
        kit.clock.advance(60)
        seg.close(kit.clock.wall())
    rows = {r.camera: r for r in check.stats(kit.store)}
    assert rows["porch"].segments == 2
    assert rows["porch"].states == {"closed": 2}
    assert rows["gate"].bytes > 1000
