"""Proving the storage invariants on a real data directory (docs/design/storage.md).

- ``verify(store, identities)``: every ``closed`` segment's file exists, has the indexed
  size and SHA-256, and decrypts and authenticates to its last chunk; every ``truncated``
  one salvages; ``missing``/``corrupt`` rows are problems. Needs the owner's unlock.
- ``scan_plaintext(data_dir)``: no file under the data directory holds an MP4 box header
  or a JPEG start marker in the clear. Needs no key.
- ``reseal(store, record, identities)``: turn a truncated segment into a complete one by
  re-encrypting its salvaged prefix (in memory) to the current recipients; the old file is
  kept in quarantine. Nothing decrypted touches the disk.
- ``stats(store)``: per-camera counts, bytes and time span, from the index alone.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from nvr.crypto import AgeError, Identity, Reader, decrypt, salvage
from nvr.db.models import Segment
from nvr.storage.layout import QUARANTINE
from nvr.storage.segments import SegmentRecord, SegmentStore
from nvr.storage.writer import SegmentFile

# An MP4 box header (size, then a type we write) or a JPEG SOI + APPn/DQT marker.
_PLAINTEXT = re.compile(
    rb"ftyp(?:isom|iso[2-9]|mp4[12]|dash|avc1)|\x00\x00\x00[\x08-\x7f](?:moof|mfhd)|"
    rb"mdat\x00\x00|\xff\xd8\xff[\xdb\xe0-\xef]"
)


@dataclass
class VerifyReport:
    closed: int = 0
    truncated: int = 0
    bytes_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def verify(store: SegmentStore, identities: Sequence[Identity]) -> VerifyReport:
    report = VerifyReport()
    for rec in store.all_records():
        where = f"{rec.camera} #{rec.seq} ({rec.path})"
        path = store.path_of(rec)
        if rec.state in ("missing", "corrupt", "open"):
            report.problems.append(f"{where}: {rec.state}")
            continue
        if not path.exists():
            report.problems.append(f"{where}: file is missing")
            continue
        try:
            with path.open("rb") as f:
                if rec.state == "closed":
                    if path.stat().st_size != rec.size or _sha256(path) != rec.sha256:
                        report.problems.append(f"{where}: size or SHA-256 differs from the index")
                        continue
                    reader: Reader = decrypt(f, identities)
                    for i in range(reader.chunk_count):
                        report.bytes_checked += len(reader.read_chunk(i))
                    report.closed += 1
                else:
                    result = salvage(f, identities, cast(BinaryIO, _Discard()))
                    report.bytes_checked += result.size
                    report.truncated += 1
        except AgeError as exc:
            report.problems.append(f"{where}: {exc}")
    return report


class _Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        return len(memoryview(b))  # type: ignore[arg-type]


def scan_plaintext(data_dir: Path) -> Iterator[tuple[Path, int]]:
    """(file, offset) of every plaintext video/image signature under ``data_dir``."""
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        tail = b""
        offset = 0
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                data = tail + block
                m = _PLAINTEXT.search(data)
                if m is not None:
                    yield path, offset - len(tail) + m.start()
                    break
                tail = data[-16:]
                offset += len(block)


def reseal(
    store: SegmentStore, record: SegmentRecord, identities: Sequence[Identity]
) -> SegmentRecord:
    if record.state != "truncated":
        raise ValueError(f"segment {record.id} is {record.state}, not truncated")
    old = store.path_of(record)
    plain = io.BytesIO()
    with old.open("rb") as f:
        salvage(f, identities, plain)
    rel = PurePosixPath(record.path)
    final_rel = rel.with_name(rel.name.removesuffix(".partial"))
    stamp = f"{store.clock.wall():%Y%m%dT%H%M%SZ}"
    kept = store.data_dir / QUARANTINE / stamp / "salvaged" / rel
    kept.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    old.rename(kept)  # the original stays, in quarantine, whatever happens next
    try:
        file = SegmentFile.create(store.data_dir, final_rel, store.recipients(), store.clock)
        file.write(plain.getbuffer())
        closed = file.close()
    except BaseException:
        kept.rename(old)
        raise
    with store.sessions.begin() as session:
        seg = session.get(Segment, record.id)
        assert seg is not None
        seg.path, seg.state = str(closed.relpath), "closed"
        seg.size_bytes, seg.sha256 = closed.size, closed.sha256
    if store.audit is not None:
        store.audit(
            "storage.reseal",
            {
                "camera": record.camera,
                "seq": record.seq,
                "old_sha256": record.sha256,
                "new_sha256": closed.sha256,
                "bytes": closed.plaintext_size,
            },
        )
    return SegmentRecord(
        record.id,
        record.camera,
        record.seq,
        str(closed.relpath),
        record.start,
        record.end,
        closed.size,
        closed.sha256,
        "closed",
    )


@dataclass(frozen=True)
class CameraStats:
    camera: str
    segments: int
    bytes: int
    oldest: datetime | None
    newest: datetime | None
    states: dict[str, int]


def stats(store: SegmentStore) -> list[CameraStats]:
    by_camera: dict[str, list[SegmentRecord]] = {}
    for rec in store.all_records():
        by_camera.setdefault(rec.camera, []).append(rec)
    out = []
    for camera, recs in sorted(by_camera.items()):
        states: dict[str, int] = {}
        for r in recs:
            states[r.state] = states.get(r.state, 0) + 1
        out.append(
            CameraStats(
                camera,
                len(recs),
                sum(r.size or 0 for r in recs),
                min(r.start for r in recs),
                max((r.end or r.start) for r in recs),
                states,
            )
        )
    return out
