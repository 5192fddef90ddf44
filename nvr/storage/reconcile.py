"""Start-up reconciliation of segment files and index rows (docs/design/storage.md).

Runs before recording resumes. Every decision is a row of the table in the design note:

| file | row | action |
|---|---|---|
| ``.age`` | ``open`` (names the ``.partial``) | crash after rename: hash, mark ``closed`` |
| ``.partial`` | ``open`` | crash mid-segment: mark ``truncated`` (salvageable) |
| ``.partial`` | none | crash before the row was written: index it as ``truncated`` |
| any file | none, or not ours | quarantine (moved, never deleted) |
| none | ``closed``/``truncated`` | mark ``missing`` |
| size differs | ``closed`` | mark ``corrupt`` |
| back, same SHA-256 | ``missing`` | ``closed`` again (``truncated`` for a ``.partial``) |
| back, other content | ``missing`` | mark ``corrupt`` |

A file comes back when the owner copies segments into a restored data directory after
the service had already started on it (docs/design/backup.md).

End times the crash never recorded are taken from the file's modification time (the last
write). Hashes of closed files are checked by ``nvr storage verify``, not at every start.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import select

from nvr.db.models import Segment
from nvr.db.repo import ensure_cameras
from nvr.storage.layout import PARTIAL, QUARANTINE, SEGMENTS, parse_segment_name
from nvr.storage.segments import SegmentStore

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    recovered: list[str] = field(default_factory=list)  # open row, file had been renamed
    truncated: list[str] = field(default_factory=list)  # open row, partial file
    indexed: list[str] = field(default_factory=list)  # partial file without a row
    quarantined: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)  # missing row, its file is back

    @property
    def changed(self) -> bool:
        return any(vars(self).values())

    def summary(self) -> dict[str, int]:
        return {k: len(v) for k, v in vars(self).items() if v}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _quarantine(data_dir: Path, rel: PurePosixPath, stamp: str) -> Path:
    target = data_dir / QUARANTINE / stamp / rel
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / rel).rename(target)
    return target


def _returned(seg: Segment, path: Path, report: ReconcileReport) -> None:
    """A ``missing`` row whose file is on disk again: trusted only if it is the same file."""
    digest = _sha256(path)
    partial = seg.path.endswith(PARTIAL)
    if seg.sha256 is None and partial:  # went missing while open: never hashed
        seg.size_bytes, seg.sha256 = path.stat().st_size, digest
        seg.end_time = seg.end_time or _mtime(path)
    if digest == seg.sha256 and path.stat().st_size == seg.size_bytes:
        seg.state = "truncated" if partial else "closed"
        report.returned.append(seg.path)
    else:
        seg.state = "corrupt"
        report.corrupt.append(seg.path)


def reconcile(store: SegmentStore) -> ReconcileReport:
    """Bring files and rows into agreement; returns what was done (also logged)."""
    data_dir = store.data_dir
    report = ReconcileReport()
    stamp = f"{store.clock.wall():%Y%m%dT%H%M%SZ}"
    on_disk = (
        {
            PurePosixPath(p.relative_to(data_dir).as_posix())
            for p in (data_dir / SEGMENTS).rglob("*")
            if p.is_file()
        }
        if (data_dir / SEGMENTS).exists()
        else set()
    )
    with store.sessions.begin() as session:
        for seg in session.scalars(select(Segment).order_by(Segment.id)):
            rel = PurePosixPath(seg.path)
            if seg.state == "open":
                final = rel.with_name(rel.name.removesuffix(PARTIAL))
                if rel in on_disk:
                    path = data_dir / rel
                    seg.state, seg.end_time = "truncated", _mtime(path)
                    seg.size_bytes, seg.sha256 = path.stat().st_size, _sha256(path)
                    report.truncated.append(seg.path)
                elif final in on_disk:
                    path = data_dir / final
                    seg.path, seg.state, seg.end_time = str(final), "closed", _mtime(path)
                    seg.size_bytes, seg.sha256 = path.stat().st_size, _sha256(path)
                    report.recovered.append(seg.path)
                    rel = final
                else:
                    seg.state = "missing"
                    report.missing.append(seg.path)
            elif seg.state in ("closed", "truncated", "corrupt"):
                if rel not in on_disk:
                    seg.state = "missing"
                    report.missing.append(seg.path)
                elif seg.state == "closed" and (data_dir / rel).stat().st_size != seg.size_bytes:
                    seg.state = "corrupt"
                    report.corrupt.append(seg.path)
            elif seg.state == "missing" and rel in on_disk:
                _returned(seg, data_dir / rel, report)
            on_disk.discard(rel)
        known = {(seg.camera_id, seg.seq) for seg in session.scalars(select(Segment))}
        for rel in sorted(on_disk):
            name = parse_segment_name(rel.name)
            if name is not None and name.partial:
                camera_id = ensure_cameras(session, [name.camera], store.clock.wall())[name.camera]
                if (camera_id, name.seq) not in known:
                    path = data_dir / rel
                    session.add(
                        Segment(
                            camera_id=camera_id,
                            seq=name.seq,
                            path=str(rel),
                            start_time=name.start,
                            end_time=_mtime(path),
                            size_bytes=path.stat().st_size,
                            sha256=_sha256(path),
                            state="truncated",
                        )
                    )
                    known.add((camera_id, name.seq))
                    report.indexed.append(str(rel))
                    continue
            target = _quarantine(data_dir, rel, stamp)
            report.quarantined.append(str(rel))
            log.warning(
                "quarantined a file the index cannot explain",
                extra={"file": str(rel), "moved_to": str(target)},
            )
    if report.changed:
        log.warning("storage reconciled after an unclean stop", extra=report.summary())
    return report
