"""Sealed event records and thumbnails: what happened, readable only with an owner key.

``EventStore(data_dir, sessions, recipients, clock)``:
- ``add(camera, details, thumbnail_jpeg)`` -> event id. ``details`` is JSON-able: ``type``
  (one of ``EVENT_TYPES``), ``start`` (aware datetime or ISO 8601 with offset), optional
  ``end``, ``peak_score``, ``boxes`` (over time), ``zones``, and whatever else the event
  source wants kept. Everything in it is sealed; the index row gets camera and hour only.
- ``list(camera, since_hour, until_hour)`` -> ``EventRef`` (id, camera, hour): no key needed.
- ``open(id, identities)`` -> ``EventDetails``; ``thumbnail(id, identities)`` -> JPEG or None.
- ``delete(ids, reason)`` and ``expire(...)`` (retention by ``event_days``, holds respected).
- ``reconcile()``: start-up sweep of temp files and sealed files no row names.

On disk (docs/design/storage.md, "Sealed records"), one random name per event, two files:
``sealed/events/<YYYY-MM-DD-HH>/<uuid4>.age`` (the record) and
``sealed/thumbs/<YYYY-MM-DD-HH>/<uuid4>.age`` (the thumbnail). Every event gets a
thumbnail file, an all-zero one when it has no picture, so neither the index nor the disk
tells which events have one; retention finds it from the record's name without a key. Both
plaintexts are padded to size buckets so file sizes do not tell event types apart.

Sealing gives confidentiality, not authorship: anyone with the public recipients can write
a valid age file. The record repeats its own path, camera and hour, and the thumbnail's
SHA-256, so files swapped between rows are refused (``SealedRecordError``).
All I/O here is synchronous: call it from a worker thread, never the event loop.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nvr.clock import Clock
from nvr.crypto import AgeError, Identity, Recipient
from nvr.db.engine import retry_locked
from nvr.db.models import Camera, Event, Hold
from nvr.db.repo import ensure_cameras
from nvr.keys.files import seal, unseal, write_private
from nvr.storage.layout import QUARANTINE, SUFFIX
from nvr.storage.retention import Retention

log = logging.getLogger(__name__)

AuditFn = Callable[[str, dict[str, Any]], object]

SEALED = "sealed"
EVENTS = "events"
THUMBS = "thumbs"
EVENT_TYPES = ("motion", "doorbell", "camera_motion")
RECORD_FORMAT = "porchlight.event.v1"
# Record plaintext: a multiple of 4 KiB. One box sample costs about 80 bytes, so a record
# with up to ~45 samples (45 s at one a second) is the same size as a doorbell press.
RECORD_BUCKET = 4096
THUMB_BUCKET = 16 * 1024  # thumbnail plaintext: a multiple of 16 KiB
MAX_THUMBNAIL = 1024 * 1024
JPEG_SOI = b"\xff\xd8\xff"
HOUR = timedelta(hours=1)


class SealedRecordError(AgeError):
    """A sealed file decrypted and authenticated but is not the record its row names
    (swapped or replaced files, or not a Porchlight event record)."""


@dataclass(frozen=True)
class EventRef:
    """What the index knows without a key."""

    id: int
    camera: str
    hour: datetime


@dataclass(frozen=True)
class EventDetails:
    """An opened record. ``details`` is the sealed JSON as stored (times as ISO text)."""

    id: int
    camera: str
    hour: datetime
    type: str
    start: datetime
    end: datetime | None
    peak_score: float | None
    boxes: builtins.list[Any]
    zones: builtins.list[Any]
    has_thumbnail: bool
    details: dict[str, Any] = field(repr=False)


# -- pure functions: names, padding, record encoding, retention -------------------------


def hour_bucket(when: datetime) -> datetime:
    """The UTC hour ``when`` falls in."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when!r}: pass an aware datetime (UTC)")
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def sealed_paths(hour: datetime, name: str) -> tuple[PurePosixPath, PurePosixPath]:
    """Relative paths of an event's record and thumbnail files."""
    folder = f"{hour_bucket(hour):%Y-%m-%d-%H}"
    leaf = f"{name}{SUFFIX}"
    return (
        PurePosixPath(SEALED, EVENTS, folder, leaf),
        PurePosixPath(SEALED, THUMBS, folder, leaf),
    )


def thumb_path_of(record_path: str) -> PurePosixPath:
    """The thumbnail file that belongs to a record file (same folder name and file name)."""
    rel = PurePosixPath(record_path)
    if rel.parts[:2] != (SEALED, EVENTS) or len(rel.parts) != 4:
        raise ValueError(f"not a sealed event path: {record_path}")
    return PurePosixPath(SEALED, THUMBS, *rel.parts[2:])


def padded_size(length: int, bucket: int) -> int:
    """The next multiple of ``bucket`` at or above ``length`` (at least one bucket)."""
    return max(bucket, -(-length // bucket) * bucket)


def pad_record(text: bytes) -> bytes:
    # JSON allows trailing whitespace, so the padded plaintext is still valid JSON for
    # anyone who decrypts it with the stock age tool.
    return text + b" " * (padded_size(len(text), RECORD_BUCKET) - len(text))


def pad_thumbnail(jpeg: bytes | None) -> bytes:
    # JPEG readers stop at the end-of-image marker, so zero padding after it is harmless;
    # the record keeps the exact length and hash.
    data = jpeg or b""
    return data + bytes(padded_size(len(data), THUMB_BUCKET) - len(data))


def _utc_iso(value: datetime | str, what: str) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"event {what} is not an ISO 8601 time: {value!r}") from None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"event {what} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC).isoformat()


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return _utc_iso(value, "time value")
    raise TypeError(f"not JSON-able in event details: {type(value).__name__}")


def normalize_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """Check the required fields and return the details as plain JSON values."""
    kind = details.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"event type must be one of {', '.join(EVENT_TYPES)}: {kind!r}")
    if "start" not in details:
        raise ValueError("event details need a start time")
    out = dict(details)
    out["start"] = _utc_iso(details["start"], "start")
    if details.get("end") is not None:
        out["end"] = _utc_iso(details["end"], "end")
        if datetime.fromisoformat(out["end"]) < datetime.fromisoformat(out["start"]):
            raise ValueError("event end is before its start")
    plain: dict[str, Any] = json.loads(
        json.dumps(out, default=_json_default, allow_nan=False, sort_keys=True)
    )
    return plain


def encode_record(
    path: PurePosixPath, camera: str, details: dict[str, Any], jpeg: bytes | None
) -> bytes:
    """The sealed record's plaintext, before padding: canonical JSON."""
    thumb = (
        None
        if jpeg is None
        else {
            "path": str(thumb_path_of(str(path))),
            "size": len(jpeg),
            "sha256": hashlib.sha256(jpeg).hexdigest(),
        }
    )
    record = {
        "format": RECORD_FORMAT,
        "path": str(path),
        "camera": camera,
        "hour": hour_bucket(datetime.fromisoformat(details["start"])).isoformat(),
        "details": details,
        "thumbnail": thumb,
    }
    return json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def decode_record(plaintext: bytes, ref: EventRef, path: str) -> dict[str, Any]:
    """Parse a record and check it is the one the row names."""
    try:
        record = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SealedRecordError("record-format", f"event {ref.id}: not a JSON record") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise SealedRecordError("record-format", f"event {ref.id}: not a {RECORD_FORMAT} record")
    if (record.get("path"), record.get("camera"), record.get("hour")) != (
        path,
        ref.camera,
        ref.hour.isoformat(),
    ):
        raise SealedRecordError(
            "record-mismatch",
            f"event {ref.id}: the sealed file holds another event's record "
            f"({record.get('camera')!r}, {record.get('path')!r}); was it swapped?",
        )
    return record


def expired_events(
    events: Iterable[EventRef],
    retention: Mapping[str, Retention],
    default: Retention,
    now: datetime,
    holds: Iterable[tuple[str | None, datetime, datetime]] = (),
) -> builtins.list[int]:
    """Ids of events whose whole hour is older than their camera's ``event_days``, except
    those whose hour overlaps an active hold ``(camera or None for all, start, end)``."""
    holds = builtins.list(holds)
    out = []
    for ev in events:
        limit = retention.get(ev.camera, default).limit(event=True)
        if limit is None or ev.hour + HOUR > now - limit:
            continue
        if any(
            cam in (None, ev.camera) and start < ev.hour + HOUR and end >= ev.hour
            for cam, start, end in holds
        ):
            continue
        out.append(ev.id)
    return out


# -- the store --------------------------------------------------------------------------


def _private_dirs(root: Path, rel: PurePosixPath) -> Path:
    """Create ``root/rel`` folder by folder, each 0700 (``mkdir(parents=True)`` would give
    the parents the umask's mode)."""
    path = root
    for part in rel.parts:
        path = path / part
        path.mkdir(mode=0o700, exist_ok=True)
    return path


@dataclass
class SealedReport:
    removed_temp: builtins.list[str] = field(default_factory=builtins.list)
    quarantined: builtins.list[str] = field(default_factory=builtins.list)


class EventStore:
    def __init__(
        self,
        data_dir: Path,
        sessions: sessionmaker[Session],
        recipients: Callable[[], Sequence[Recipient]],
        clock: Clock,
        *,
        audit: AuditFn | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.sessions = sessions
        self._recipients = recipients
        self.clock = clock
        self.audit = audit

    def add(self, camera: str, details: Mapping[str, Any], thumbnail_jpeg: bytes | None) -> int:
        """Seal the thumbnail file, then the record, then insert the row (that order, so a
        crash leaves at most unnamed ciphertext, which ``reconcile`` sweeps)."""
        plain = normalize_details(details)
        if thumbnail_jpeg is not None:
            if not thumbnail_jpeg.startswith(JPEG_SOI):
                raise ValueError("thumbnail is not a JPEG")
            if len(thumbnail_jpeg) > MAX_THUMBNAIL:
                raise ValueError(f"thumbnail larger than {MAX_THUMBNAIL} bytes")
        hour = hour_bucket(datetime.fromisoformat(plain["start"]))
        record_rel, thumb_rel = sealed_paths(hour, str(uuid.uuid4()))
        record = pad_record(encode_record(record_rel, camera, plain, thumbnail_jpeg))
        recipients = self._recipients()
        written: builtins.list[Path] = []
        try:
            for rel, data in ((thumb_rel, pad_thumbnail(thumbnail_jpeg)), (record_rel, record)):
                path = _private_dirs(self.data_dir, rel.parent) / rel.name
                write_private(path, seal(data, recipients))
                written.append(path)
                # mtime says the hour, like the folder; ctime still has the exact time
                # (docs/threat-model.md), which no unprivileged call can change.
                stamp = hour.timestamp()
                os.utime(path, (stamp, stamp))

            def index() -> int:
                with self.sessions.begin() as session:
                    camera_id = ensure_cameras(session, [camera], self.clock.wall())[camera]
                    row = Event(camera_id=camera_id, hour_bucket=hour, sealed_path=str(record_rel))
                    session.add(row)
                    session.flush()
                    return row.id

            return retry_locked(index, f"indexing an event of {camera}")
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise

    def list(
        self,
        camera: str | None = None,
        since_hour: datetime | None = None,
        until_hour: datetime | None = None,
    ) -> builtins.list[EventRef]:
        """Events whose hour overlaps [since_hour, until_hour), by hour then id."""
        query = select(Event.id, Camera.name, Event.hour_bucket).join(
            Camera, Camera.id == Event.camera_id
        )
        if camera is not None:
            query = query.where(Camera.name == camera)
        if since_hour is not None:
            query = query.where(Event.hour_bucket >= hour_bucket(since_hour))
        if until_hour is not None:
            query = query.where(Event.hour_bucket < until_hour)
        with self.sessions() as session:
            rows = session.execute(query.order_by(Event.hour_bucket, Event.id)).all()
        return [EventRef(id_, name, hour) for id_, name, hour in rows]

    def _row(self, event_id: int) -> tuple[EventRef, str]:
        with self.sessions() as session:
            row = session.execute(
                select(Event.id, Camera.name, Event.hour_bucket, Event.sealed_path)
                .join(Camera, Camera.id == Event.camera_id)
                .where(Event.id == event_id)
            ).one_or_none()
        if row is None:
            raise LookupError(f"no event with id {event_id}")
        return EventRef(row[0], row[1], row[2]), row[3]

    def _record(
        self, event_id: int, identities: Sequence[Identity]
    ) -> tuple[EventRef, dict[str, Any]]:
        ref, path = self._row(event_id)
        plaintext = unseal((self.data_dir / path).read_bytes(), identities)
        return ref, decode_record(plaintext, ref, path)

    def open(self, event_id: int, identities: Sequence[Identity]) -> EventDetails:
        """Decrypt and check an event's record; ``AgeError`` if it was tampered with."""
        ref, record = self._record(event_id, identities)
        details: dict[str, Any] = record["details"]
        end = details.get("end")
        score = details.get("peak_score")
        return EventDetails(
            id=ref.id,
            camera=ref.camera,
            hour=ref.hour,
            type=details["type"],
            start=datetime.fromisoformat(details["start"]),
            end=None if end is None else datetime.fromisoformat(end),
            peak_score=None if score is None else float(score),
            boxes=builtins.list(details.get("boxes") or []),
            zones=builtins.list(details.get("zones") or []),
            has_thumbnail=record["thumbnail"] is not None,
            details=details,
        )

    def thumbnail(self, event_id: int, identities: Sequence[Identity]) -> bytes | None:
        """The event's JPEG, checked against the hash in its record, or None if it has none."""
        ref, record = self._record(event_id, identities)
        thumb = record["thumbnail"]
        if thumb is None:
            return None
        path = thumb_path_of(record["path"])
        if thumb.get("path") != str(path):
            raise SealedRecordError(
                "record-format", f"event {ref.id}: the record names a foreign thumbnail path"
            )
        padded = unseal((self.data_dir / path).read_bytes(), identities)
        jpeg = padded[: thumb["size"]]
        if len(jpeg) != thumb["size"] or hashlib.sha256(jpeg).hexdigest() != thumb["sha256"]:
            raise SealedRecordError(
                "thumbnail-mismatch",
                f"event {ref.id}: the thumbnail file is not the one its record names",
            )
        return jpeg

    def delete(self, ids: Sequence[int], reason: str) -> int:
        """Drop the rows, then unlink both files of each; one audit entry. Returns bytes
        freed. A crash between the two leaves unnamed ciphertext for ``reconcile``."""
        if not ids:
            return 0
        with self.sessions.begin() as session:
            rows = session.execute(
                select(Event.id, Camera.name, Event.hour_bucket, Event.sealed_path)
                .join(Camera, Camera.id == Event.camera_id)
                .where(Event.id.in_(ids))
            ).all()
            session.execute(sql_delete(Event).where(Event.id.in_([r[0] for r in rows])))
        freed = 0
        for _, _, _, path in rows:
            for rel in (PurePosixPath(path), thumb_path_of(path)):
                target = self.data_dir / rel
                try:
                    freed += target.stat().st_size
                    target.unlink()
                except FileNotFoundError:
                    pass
        # The audit log is plaintext and outlives retention: a count, not which hours.
        if self.audit is not None:
            self.audit(
                "retention.delete_events", {"reason": reason, "events": len(rows), "bytes": freed}
            )
        log.info("deleted events", extra={"events": len(rows), "bytes": freed, "reason": reason})
        return freed

    def expire(self, retention: Mapping[str, Retention], default: Retention) -> builtins.list[int]:
        """Delete events past their camera's ``event_days`` (held hours stay); their ids."""
        with self.sessions() as session:
            holds = [
                (name, start, end)
                for name, start, end in session.execute(
                    select(Camera.name, Hold.start_time, Hold.end_time)
                    .select_from(Hold)
                    .outerjoin(Camera, Camera.id == Hold.camera_id)
                    .where(Hold.released_at.is_(None))
                ).all()
            ]
        ids = expired_events(self.list(), retention, default, self.clock.wall(), holds)
        self.delete(ids, "retention.age")
        return ids

    def reconcile(self) -> SealedReport:
        """Remove temp files a crash left; quarantine sealed files no row names (a crash
        between writing the files and the row, or a delete between row and unlink).
        Looks in ``sealed/events`` and ``sealed/thumbs`` only."""
        report = SealedReport()
        root = self.data_dir / SEALED
        if not root.exists():
            return report
        with self.sessions() as session:
            named = set(session.scalars(select(Event.sealed_path)))
        named |= {str(thumb_path_of(p)) for p in named}
        stamp = f"{self.clock.wall():%Y%m%dT%H%M%SZ}"
        # Only the folders this store writes: sealed/paperwork (requests) is not ours.
        ours = [p for sub in (EVENTS, THUMBS) for p in (root / sub).rglob("*") if p.is_file()]
        for path in sorted(ours):
            rel = PurePosixPath(path.relative_to(self.data_dir).as_posix())
            if rel.name.startswith(".") and rel.name.endswith(".tmp"):
                path.unlink()
                report.removed_temp.append(str(rel))
            elif str(rel) not in named:
                folder = PurePosixPath(QUARANTINE, stamp, *rel.parent.parts)
                target = _private_dirs(self.data_dir, folder) / rel.name
                path.rename(target)
                report.quarantined.append(str(rel))
        if report.removed_temp or report.quarantined:
            log.warning("sealed records reconciled", extra=report.__dict__)
        return report
