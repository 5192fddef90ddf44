"""The segment store: encrypted footage files and their index rows, kept in step.

``SegmentStore(data_dir, sessions, recipients, clock)``:
- ``open_segment(camera, start)`` -> ``OpenSegment``: allocates the camera's next sequence
  number, creates the ``.partial`` file (age header on disk first), inserts the ``open`` row.
  ``OpenSegment.write / pad / tick / close(end)``; ``close`` renames the file into place and
  marks the row ``closed`` with size and ciphertext SHA-256 (docs/design/storage.md).
- ``find(camera, start, end)``: closed and truncated segments overlapping a time range.
- ``open_plaintext(record, identities)``: context manager, an authenticated reader (the
  salvaged prefix for truncated segments).
- ``delete(ids, reason)``: unlink files and mark rows gone, one audit entry per batch.

Start-up reconciliation lives in ``nvr.storage.reconcile``. Everything here is synchronous
file and database I/O: call it from a worker thread, never the event loop.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from nvr.clock import Clock
from nvr.crypto import Identity, Reader, Recipient, decrypt, salvage
from nvr.db.engine import retry_locked
from nvr.db.models import Camera, Segment
from nvr.db.repo import ensure_cameras
from nvr.storage.layout import segment_path
from nvr.storage.stats import WriteStats
from nvr.storage.volume import volume_of
from nvr.storage.writer import DiskFull, SegmentFile

log = logging.getLogger(__name__)

AuditFn = Callable[[str, dict[str, Any]], object]
ROOM_MARGIN = 4 * 1024 * 1024  # evict a little more than the backlog, not one chunk at a time
MAX_BACKLOG = 32 * 1024 * 1024  # RAM a camera may hold while the disk is full
SPACE_CHECK_BYTES = 1024 * 1024  # how often (in footage written) free space is looked at


class StorageFull(Exception):
    """The disk stayed full after eviction; the segment was ended (truncated)."""


@dataclass(frozen=True)
class SegmentRecord:
    id: int
    camera: str
    seq: int
    path: str
    start: datetime
    end: datetime | None
    size: int | None
    sha256: str | None
    state: str


def _record(seg: Segment, camera: str) -> SegmentRecord:
    return SegmentRecord(
        seg.id,
        camera,
        seg.seq,
        seg.path,
        seg.start_time,
        seg.end_time,
        seg.size_bytes,
        seg.sha256,
        seg.state,
    )


class OpenSegment:
    """A segment being written. Not thread-safe: one writer per camera stream."""

    def __init__(self, store: SegmentStore, row_id: int, camera: str, file: SegmentFile) -> None:
        self._store = store
        self.id = row_id
        self.camera = camera
        self.file = file
        self._since_space_check = 0
        self._stats = store.stats(camera)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append plaintext. A full disk never raises out of here while RAM can hold the
        backlog: the store makes room (retention) and retries; past ``MAX_BACKLOG`` the
        segment ends as ``truncated`` and ``StorageFull`` tells the recorder to pause."""
        started = perf_counter()
        try:
            self.file.write(data)
        except DiskFull:
            self._recover_from_full_disk()
            return
        self._stats.observe(perf_counter() - started, len(data))
        self._store.alarms.pop("disk_full", None)
        self._since_space_check += len(data)
        if self._since_space_check >= SPACE_CHECK_BYTES:
            self._since_space_check = 0
            self._store.check_space()

    def _recover_from_full_disk(self) -> None:
        self._store.make_room(self.file.unflushed_bytes + ROOM_MARGIN)
        try:
            self.file.flush()
        except DiskFull:
            self._store.alarms["disk_full"] = "the disk is full and nothing more can be evicted"
            log.error(
                "disk full: footage waits in memory",
                extra={"camera": self.camera, "backlog_bytes": self.file.unflushed_bytes},
            )
            if self.file.unflushed_bytes > MAX_BACKLOG:
                self.file.abandon()
                with self._store.sessions.begin() as session:
                    seg = session.get(Segment, self.id)
                    assert seg is not None
                    seg.state = "truncated"
                    seg.end_time = self._store.clock.wall()
                raise StorageFull(f"camera {self.camera}: disk full, segment ended") from None

    def unsealed_age(self) -> float:
        return self.file.unsealed_age()

    def pad(self, filler: Callable[[int], bytes], min_size: int = 8) -> int:
        return self.file.pad(filler, min_size)

    def tick(self) -> None:
        self.file.tick()

    def close(self, end: datetime) -> SegmentRecord:
        started = perf_counter()
        try:
            closed = self.file.close()
        except DiskFull:
            self._store.make_room(self.file.unflushed_bytes + ROOM_MARGIN)
            closed = self.file.close()
        self._stats.observe(perf_counter() - started)

        def index() -> SegmentRecord:
            with self._store.sessions.begin() as session:
                seg = session.get(Segment, self.id)
                assert seg is not None
                seg.path = str(closed.relpath)
                seg.end_time = end
                seg.size_bytes = closed.size
                seg.sha256 = closed.sha256
                seg.state = "closed"
                return _record(seg, self.camera)

        # The file is complete on disk: a locked index is waited out, not a lost segment.
        return retry_locked(index, f"closing segment {self.id} of {self.camera}")


class SegmentStore:
    def __init__(
        self,
        data_dir: Path,
        sessions: sessionmaker[Session],
        recipients: Callable[[], Sequence[Recipient]],
        clock: Clock,
        *,
        fsync_interval: float = 1.0,
        audit: AuditFn | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.sessions = sessions
        self.recipients = recipients
        self.clock = clock
        self._fsync_interval = fsync_interval
        self.audit = audit
        # Set by the service to the retainer: free at least N bytes now (disk full).
        self.room_maker: Callable[[int], object] | None = None
        self.alarms: dict[str, str] = {}
        self._stats: dict[str, WriteStats] = {}

    def stats(self, camera: str) -> WriteStats:
        """The write latencies and bytes of ``camera`` (nvr/storage/stats.py)."""
        stats = self._stats.get(camera)
        if stats is None:
            stats = self._stats.setdefault(camera, WriteStats())
        return stats

    def all_stats(self) -> dict[str, WriteStats]:
        return dict(self._stats)

    def open_segment(self, camera: str, start: datetime) -> OpenSegment:
        self.check_space()
        with self.sessions.begin() as session:
            camera_id = ensure_cameras(session, [camera], self.clock.wall())[camera]
            last = session.scalar(
                select(func.max(Segment.seq)).where(Segment.camera_id == camera_id)
            )
            seq = 0 if last is None else last + 1
            relpath = segment_path(camera, seq, start)
            file = SegmentFile.create(
                self.data_dir,
                relpath,
                self.recipients(),
                self.clock,
                fsync_interval=self._fsync_interval,
            )
            try:
                seg = Segment(
                    camera_id=camera_id,
                    seq=seq,
                    path=str(relpath) + ".partial",
                    start_time=start,
                    state="open",
                )
                session.add(seg)
                session.flush()
                row_id = seg.id
            except BaseException:
                file.abandon()
                file.partial_path.unlink(missing_ok=True)
                raise
        # The row names the partial file until close renames it and records the final path.
        return OpenSegment(self, row_id, camera, file)

    def make_room(self, need_bytes: int) -> None:
        if self.room_maker is not None:
            self.room_maker(need_bytes)

    def check_space(self) -> None:
        """Keep the volume's reserve free: evict before the disk is actually full."""
        if volume_of(self.data_dir).low:
            self.make_room(0)

    def find(self, camera: str, start: datetime, end: datetime) -> list[SegmentRecord]:
        """Readable segments of ``camera`` overlapping [start, end), oldest first."""
        with self.sessions() as session:
            rows = (
                session.execute(
                    select(Segment)
                    .join(Camera, Camera.id == Segment.camera_id)
                    .where(
                        Camera.name == camera,
                        Segment.state.in_(("closed", "truncated")),
                        Segment.start_time < end,
                        func.coalesce(Segment.end_time, Segment.start_time) >= start,
                    )
                    .order_by(Segment.start_time, Segment.seq)
                )
                .scalars()
                .all()
            )
            return [_record(seg, camera) for seg in rows]

    def all_records(self) -> list[SegmentRecord]:
        with self.sessions() as session:
            rows = session.execute(
                select(Segment, Camera.name)
                .join(Camera, Camera.id == Segment.camera_id)
                .order_by(Segment.id)
            ).all()
            return [_record(seg, name) for seg, name in rows]

    def path_of(self, record: SegmentRecord) -> Path:
        return self.data_dir / record.path

    @contextlib.contextmanager
    def open_plaintext(
        self, record: SegmentRecord, identities: Sequence[Identity]
    ) -> Iterator[Reader | io.BytesIO]:
        """An authenticated plaintext view (``read``/``seek``/``tell``); truncated segments
        give their salvaged prefix. Plaintext stays in memory; nothing touches disk."""
        with self.path_of(record).open("rb") as src:
            if record.state != "truncated":
                yield decrypt(src, identities)
                return
            out = io.BytesIO()
            salvage(src, identities, out)
            out.seek(0)
            yield out

    def delete(self, ids: Sequence[int], reason: str) -> int:
        """Unlink the files of ``ids`` and drop their rows; one audit entry for the batch.
        Returns bytes freed."""
        if not ids:
            return 0
        freed = 0
        gone: list[dict[str, Any]] = []
        with self.sessions.begin() as session:
            rows = session.execute(
                select(Segment, Camera.name)
                .join(Camera, Camera.id == Segment.camera_id)
                .where(Segment.id.in_(ids))
            ).all()
            for seg, camera in rows:
                if seg.state == "open":
                    raise ValueError(f"refusing to delete open segment {seg.id}")
                path = self.data_dir / seg.path
                try:
                    freed += path.stat().st_size
                    path.unlink()
                except FileNotFoundError:
                    pass
                gone.append(
                    {
                        "camera": camera,
                        "seq": seg.seq,
                        "sha256": seg.sha256,
                        "start": seg.start_time.isoformat(),
                    }
                )
            session.execute(sql_delete(Segment).where(Segment.id.in_([s.id for s, _ in rows])))
        if self.audit is not None:
            self.audit("retention.delete", {"reason": reason, "segments": gone, "bytes": freed})
        log.info("deleted footage", extra={"segments": len(gone), "bytes": freed, "reason": reason})
        return freed
