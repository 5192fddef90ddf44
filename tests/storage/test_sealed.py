"""Sealed event records: round trips, the stock age CLI, what the disk shows without a key,
hour-bucket queries, tampering, deletion, retention and crash leftovers."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from nvr.crypto import AgeError, ChunkAuthError, NoIdentityMatchError, X25519Identity
from nvr.db.models import Camera, Hold
from nvr.storage.retention import Retention
from nvr.storage.sealed import (
    RECORD_BUCKET,
    THUMB_BUCKET,
    EventRef,
    EventStore,
    SealedRecordError,
    expired_events,
    hour_bucket,
    padded_size,
    thumb_path_of,
)
from tests.storage.conftest import StoreKit

T0 = datetime(2026, 3, 4, 10, 17, 42, 123456, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0" + b"\x10JFIF\x00" + bytes(range(256)) * 20 + b"\xff\xd9"


def details(kind: str = "doorbell", start: datetime = T0, **extra: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "start": start,
        "end": start + timedelta(seconds=13, microseconds=5),
        "peak_score": 0.8731,
        "boxes": [{"t": start.isoformat(), "box": [0.1, 0.2, 0.3, 0.4]}],
        "zones": ["porch-zone-xyzzy"],
        **extra,
    }


@pytest.fixture
def audit() -> list[tuple[str, dict[str, Any]]]:
    return []


@pytest.fixture
def events(kit: StoreKit, audit: list[tuple[str, dict[str, Any]]]) -> EventStore:
    return EventStore(
        kit.data_dir,
        kit.sessions,
        lambda: [kit.identity.recipient()],
        kit.clock,
        audit=lambda kind, payload: audit.append((kind, payload)),
    )


def record_file(kit: StoreKit, store: EventStore, event_id: int) -> Path:
    return kit.data_dir / store._row(event_id)[1]


def thumb_file(kit: StoreKit, store: EventStore, event_id: int) -> Path:
    return kit.data_dir / thumb_path_of(store._row(event_id)[1])


def test_round_trip_with_a_real_identity(kit: StoreKit, events: EventStore) -> None:
    event_id = events.add("front", details(), JPEG)
    opened = events.open(event_id, [kit.identity])
    assert (opened.id, opened.camera, opened.hour) == (event_id, "front", hour_bucket(T0))
    assert opened.type == "doorbell"
    assert opened.start == T0
    assert opened.end == T0 + timedelta(seconds=13, microseconds=5)
    assert opened.peak_score == pytest.approx(0.8731)
    assert opened.boxes == [{"t": T0.isoformat(), "box": [0.1, 0.2, 0.3, 0.4]}]
    assert opened.zones == ["porch-zone-xyzzy"]
    assert opened.has_thumbnail
    assert events.thumbnail(event_id, [kit.identity]) == JPEG


def test_an_event_without_thumbnail_still_has_a_thumbnail_file(
    kit: StoreKit, events: EventStore
) -> None:
    with_thumb = events.add("front", details(), JPEG)
    without = events.add("front", details("motion"), None)
    assert not events.open(without, [kit.identity]).has_thumbnail
    assert events.thumbnail(without, [kit.identity]) is None
    # The disk cannot tell the two apart: same files, same sizes.
    assert thumb_file(kit, events, without).stat().st_size == (
        thumb_file(kit, events, with_thumb).stat().st_size
    )


def test_paths_and_modes(kit: StoreKit, events: EventStore) -> None:
    event_id = events.add("front", details(), JPEG)
    record, thumb = record_file(kit, events, event_id), thumb_file(kit, events, event_id)
    assert record.parent.name == thumb.parent.name == "2026-03-04-10"
    assert record.parent.parent.name == "events"
    assert thumb.parent.parent.name == "thumbs"
    assert record.name == thumb.name
    for folder in (record.parent, record.parent.parent, thumb.parent, thumb.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert (kit.data_dir / "sealed").stat().st_mode & 0o777 == 0o700
    for path in (record, thumb):
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.stat().st_mtime == hour_bucket(T0).timestamp()


@pytest.mark.usefixtures("age_required")
def test_the_stock_age_cli_decrypts_both_files(
    kit: StoreKit, events: EventStore, tmp_path: Path
) -> None:
    event_id = events.add("front", details(), JPEG)
    key = tmp_path / "owner.key"
    key.write_text(kit.identity.to_string() + "\n")

    def age_decrypt(path: Path) -> bytes:
        done = subprocess.run(
            ["age", "-d", "-i", str(key), str(path)], capture_output=True, timeout=30, check=True
        )
        return done.stdout

    record = json.loads(age_decrypt(record_file(kit, events, event_id)))
    assert record["camera"] == "front"
    assert record["details"]["type"] == "doorbell"
    assert record["details"]["start"] == T0.isoformat()
    assert record["thumbnail"]["size"] == len(JPEG)
    picture = age_decrypt(thumb_file(kit, events, event_id))
    assert picture.startswith(JPEG)
    assert picture[len(JPEG) :] == bytes(len(picture) - len(JPEG))


def test_nothing_under_the_data_dir_shows_the_details(kit: StoreKit, events: EventStore) -> None:
    kinds = ("motion", "doorbell", "camera_motion")
    for i, kind in enumerate(kinds):
        events.add("front", details(kind, T0 + timedelta(minutes=i)), JPEG[: 600 + 4000 * i])
    boxes = [
        {"t": T0 + timedelta(seconds=i), "box": [0.1234, 0.2345, 0.3456, 0.4567]} for i in range(40)
    ]
    events.add("side", details("camera_motion", boxes=boxes), None)
    kit.sessions.kw["bind"].dispose()  # let SQLite fold its journal into the database file
    secrets = [
        *(k.encode() for k in kinds),
        b"porch-zone-xyzzy",
        b"peak_score",
        b"0.8731",
        b"\xff\xd8\xff",
        b"JFIF",
        b"10:17",
        b"10:18",
        b"17:42",
        str(int(T0.timestamp())).encode(),
    ]
    files = [p for p in kit.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("nvr.sqlite3") for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, (path.name, secret)
    # Sizes are bucketed: every record file and every thumbnail file has the same size.
    sealed = [p for p in files if "sealed" in p.parts]
    record_sizes = {p.stat().st_size for p in sealed if "events" in p.parts}
    thumb_sizes = {p.stat().st_size for p in sealed if "thumbs" in p.parts}
    assert len(record_sizes) == 1
    assert len(thumb_sizes) == 1


def test_sizes_grow_in_buckets(kit: StoreKit, events: EventStore) -> None:
    assert padded_size(0, RECORD_BUCKET) == RECORD_BUCKET
    assert padded_size(RECORD_BUCKET, RECORD_BUCKET) == RECORD_BUCKET
    assert padded_size(RECORD_BUCKET + 1, RECORD_BUCKET) == 2 * RECORD_BUCKET
    small = events.add("front", details(), JPEG)
    big = events.add("front", details(), JPEG + bytes(THUMB_BUCKET))
    grow = (
        thumb_file(kit, events, big).stat().st_size - thumb_file(kit, events, small).stat().st_size
    )
    assert grow == THUMB_BUCKET  # one more bucket (both within one 64 KiB age chunk)
    assert events.thumbnail(big, [kit.identity]) == JPEG + bytes(THUMB_BUCKET)


def test_hour_bucket_queries(kit: StoreKit, events: EventStore) -> None:
    h9, h10, h11 = (datetime(2026, 3, 4, h, tzinfo=UTC) for h in (9, 10, 11))
    a = events.add("front", details(start=h10 + timedelta(minutes=59)), None)
    b = events.add("side", details(start=h9 + timedelta(minutes=1)), None)
    c = events.add("front", details(start=h10 + timedelta(minutes=1)), None)
    d = events.add("front", details(start=h11), None)
    assert [e.id for e in events.list()] == [b, a, c, d]
    assert events.list(camera="side") == [EventRef(b, "side", h9)]
    assert [e.id for e in events.list(camera="front", since_hour=h10, until_hour=h11)] == [a, c]
    # A bound inside an hour includes that hour's bucket.
    assert [e.id for e in events.list(since_hour=h10 + timedelta(minutes=30))] == [a, c, d]
    assert [e.id for e in events.list(until_hour=h10)] == [b]
    assert events.list(camera="nowhere") == []


def test_a_flipped_byte_is_a_clear_age_error(kit: StoreKit, events: EventStore) -> None:
    event_id = events.add("front", details(), JPEG)
    path = record_file(kit, events, event_id)
    data = bytearray(path.read_bytes())
    data[-40] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ChunkAuthError) as caught:
        events.open(event_id, [kit.identity])
    assert caught.value.reason == "bad-chunk"
    assert "failed to authenticate" in str(caught.value)
    path.write_bytes(bytes(data[:-20]))
    with pytest.raises(AgeError):
        events.open(event_id, [kit.identity])


def test_a_tampered_thumbnail_is_refused(kit: StoreKit, events: EventStore) -> None:
    event_id = events.add("front", details(), JPEG)
    path = thumb_file(kit, events, event_id)
    data = bytearray(path.read_bytes())
    data[-40] ^= 1
    path.write_bytes(bytes(data))
    assert events.open(event_id, [kit.identity]).has_thumbnail
    with pytest.raises(AgeError):
        events.thumbnail(event_id, [kit.identity])


def test_the_wrong_key_is_refused(kit: StoreKit, events: EventStore) -> None:
    event_id = events.add("front", details(), JPEG)
    with pytest.raises(NoIdentityMatchError):
        events.open(event_id, [X25519Identity.generate()])


def test_swapped_files_are_refused(kit: StoreKit, events: EventStore) -> None:
    """Valid age files for the owner, but another event's: the binding check catches it."""
    first = events.add("front", details(), JPEG)
    second = events.add("front", details("motion"), JPEG[:-100] + b"\xff\xd9")

    def swap(a: Path, b: Path) -> None:
        a_bytes = a.read_bytes()
        a.write_bytes(b.read_bytes())
        b.write_bytes(a_bytes)

    records = record_file(kit, events, first), record_file(kit, events, second)
    swap(*records)
    with pytest.raises(SealedRecordError) as caught:
        events.open(first, [kit.identity])
    assert caught.value.reason == "record-mismatch"
    swap(*records)
    swap(thumb_file(kit, events, first), thumb_file(kit, events, second))
    with pytest.raises(SealedRecordError) as caught:
        events.thumbnail(first, [kit.identity])
    assert caught.value.reason == "thumbnail-mismatch"


def test_bad_input_is_refused_before_anything_is_written(kit: StoreKit, events: EventStore) -> None:
    bad: list[tuple[dict[str, Any], bytes | None, str]] = [
        (details("intruder"), None, "event type"),
        ({"type": "motion"}, None, "start"),
        (details(start=T0.replace(tzinfo=None)), None, "aware"),
        (details(end=T0 - timedelta(seconds=1)), None, "before its start"),
        (details(), b"\x89PNG", "not a JPEG"),
        (details(blob=object()), None, "JSON-able"),
    ]
    for given, thumb, message in bad:
        with pytest.raises((ValueError, TypeError), match=message):
            events.add("front", given, thumb)
    assert not (kit.data_dir / "sealed").exists()


def test_a_failed_insert_leaves_no_files(kit: StoreKit, events: EventStore) -> None:
    with pytest.raises(ValueError, match="camera name"):
        events.add("x" * 200, details(), JPEG)
    assert [p for p in (kit.data_dir / "sealed").rglob("*") if p.is_file()] == []
    assert events.list() == []


def test_delete_unlinks_both_files_and_the_row(
    kit: StoreKit, events: EventStore, audit: list[tuple[str, dict[str, Any]]]
) -> None:
    keep = events.add("front", details(), JPEG)
    gone = events.add("front", details(), None)
    files = [record_file(kit, events, gone), thumb_file(kit, events, gone)]
    sizes = sum(p.stat().st_size for p in files)
    freed = events.delete([gone], "owner")
    assert freed == sizes
    assert not any(p.exists() for p in files)
    assert [e.id for e in events.list()] == [keep]
    assert audit == [("retention.delete_events", {"reason": "owner", "events": 1, "bytes": freed})]
    with pytest.raises(LookupError):
        events.open(gone, [kit.identity])
    assert events.delete([], "nothing") == 0


def test_expire_respects_event_days_and_holds(kit: StoreKit, events: EventStore) -> None:
    old_front = events.add("front", details(start=T0), None)
    old_side = events.add("side", details(start=T0), None)
    new_front = events.add("front", details(start=T0 + timedelta(days=20)), None)
    kit.clock.set_wall(T0 + timedelta(days=30, hours=1))
    with kit.sessions.begin() as session:
        side = session.query(Camera).filter_by(name="side").one()
        session.add(
            Hold(
                camera_id=side.id,
                start_time=T0 - timedelta(minutes=5),
                end_time=T0,
                reason="case 17",
                created_at=T0,
            )
        )
    expired = events.expire({}, Retention(continuous_days=14, event_days=30))
    assert expired == [old_front]
    assert [e.id for e in events.list()] == [old_side, new_front]


def test_expired_events_is_judged_on_the_end_of_the_hour() -> None:
    hour = datetime(2026, 3, 4, 10, tzinfo=UTC)
    refs = [EventRef(1, "front", hour), EventRef(2, "back", hour)]
    policy = {"back": Retention(continuous_days=1, event_days=0)}
    default = Retention(continuous_days=1, event_days=1)
    just_before = hour + timedelta(days=1, minutes=59)
    assert expired_events(refs, policy, default, just_before) == []
    assert expired_events(refs, policy, default, hour + timedelta(days=1, hours=1)) == [1]
    everyone = [(None, hour + timedelta(minutes=59), hour + timedelta(hours=5))]
    assert expired_events(refs, policy, default, hour + timedelta(days=9), everyone) == []


def test_reconcile_sweeps_crash_leftovers(kit: StoreKit, events: EventStore) -> None:
    kept = events.add("front", details(), JPEG)
    orphan = events.add("front", details(), JPEG)
    orphan_files = [record_file(kit, events, orphan), thumb_file(kit, events, orphan)]
    # A crash between deleting the row and unlinking the files:
    with kit.sessions.begin() as session:
        session.execute(text("DELETE FROM events WHERE id = :id"), {"id": orphan})
    temp = orphan_files[0].with_name(".torn.age.tmp")
    temp.write_bytes(b"half")
    report = events.reconcile()
    assert report.removed_temp == [str(temp.relative_to(kit.data_dir))]
    assert sorted(report.quarantined) == sorted(
        str(p.relative_to(kit.data_dir)) for p in orphan_files
    )
    assert not any(p.exists() for p in [*orphan_files, temp])
    assert len(list((kit.data_dir / "quarantine").rglob("*.age"))) == 2
    assert events.open(kept, [kit.identity]).type == "doorbell"
    assert events.reconcile().quarantined == []


def test_reconcile_leaves_request_paperwork_alone(kit: StoreKit, events: EventStore) -> None:
    # sealed/paperwork belongs to nvr.sharing.requests; no event row ever names it.
    paper = kit.data_dir / "sealed" / "paperwork" / "letter.age"
    paper.parent.mkdir(parents=True)
    paper.write_bytes(b"sealed letter")
    assert events.reconcile().quarantined == []
    assert paper.read_bytes() == b"sealed letter"
