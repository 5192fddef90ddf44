"""Recording fixtures: a real segment store on the system clock, and ways to look inside
what the recorder wrote (decrypted in memory; a copy in the test's tmp_path for ffprobe)."""

from __future__ import annotations

import json
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from nvr.clock import SystemClock
from nvr.crypto import X25519Identity
from nvr.db import default_sqlite_url, make_engine, session_factory, upgrade
from nvr.storage.segments import SegmentRecord, SegmentStore


@dataclass
class RecordKit:
    tmp: Path
    store: SegmentStore
    sessions: sessionmaker[Session]
    identity: X25519Identity
    clock: SystemClock

    def plaintext(self, record: SegmentRecord) -> bytes:
        with self.store.open_plaintext(record, [self.identity]) as src:
            return src.read()

    def probe(self, record: SegmentRecord) -> Probe:
        data = self.plaintext(record)
        path = self.tmp / f"probe-{record.seq}.mp4"  # plaintext only ever in the test's tmp
        path.write_bytes(data)
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-of", "json", "-show_packets", "-show_format", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        info = json.loads(out.stdout)
        packets = [
            ProbePacket(
                float(p["pts_time"]),
                float(p["dts_time"]),
                float(p.get("duration_time", 0.0)),
                "K" in p.get("flags", ""),
            )
            for p in info.get("packets", [])
        ]
        return Probe(data, packets, float(info["format"].get("duration", 0.0)))


@dataclass(frozen=True)
class ProbePacket:
    pts: float
    dts: float
    duration: float
    keyframe: bool


@dataclass(frozen=True)
class Probe:
    data: bytes
    packets: list[ProbePacket]
    duration: float


def top_level_boxes(data: bytes) -> list[bytes]:
    """The types of the top-level MP4 boxes, walking sizes; fails if they do not tile."""
    kinds: list[bytes] = []
    pos = 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        assert size >= 8, f"bad box size {size} at {pos}"
        kinds.append(kind)
        pos += size
    assert pos == len(data), "boxes overrun the file"
    return kinds


@pytest.fixture
def record_kit(tmp_path: Path) -> Iterator[RecordKit]:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    url = default_sqlite_url(data_dir)
    upgrade(url)
    sessions = session_factory(make_engine(url))
    identity = X25519Identity.generate()
    clock = SystemClock()
    store = SegmentStore(data_dir, sessions, lambda: [identity.recipient()], clock)
    yield RecordKit(tmp_path, store, sessions, identity, clock)
    sessions.kw["bind"].dispose()
