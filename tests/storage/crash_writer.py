"""A recorder stand-in for the crash tests, run as its own process and killed with SIGKILL.

argv: DATA_DIR RECIPIENT FPS FRAME_BYTES SEGMENT_SECONDS
Writes frames ``FRM <index:4> <len:4> <payload>`` in real time through the real segment
store (cutting a segment every SEGMENT_SECONDS), pads a chunk that waited over 1 s with
``PAD <len:4> <zeros>`` records, and prints ``W <index>`` after each frame was handed to
the store, so the test knows exactly what was written before the kill.
"""

from __future__ import annotations

import struct
import sys
import time
from pathlib import Path

from nvr.clock import SystemClock
from nvr.crypto import parse_recipient
from nvr.db import default_sqlite_url, make_engine, session_factory
from nvr.storage.segments import SegmentStore

MAX_UNSEALED = 1.0


def pad_record(n: int) -> bytes:
    return b"PAD" + struct.pack(">I", n) + b"\0" * (n - 7)


def main() -> None:
    data_dir, recipient = Path(sys.argv[1]), parse_recipient(sys.argv[2])
    fps, frame_bytes, seg_seconds = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    clock = SystemClock()
    sessions = session_factory(make_engine(default_sqlite_url(data_dir)))
    store = SegmentStore(data_dir, sessions, lambda: [recipient], clock)
    index = 0
    t0 = time.monotonic()
    while True:
        seg = store.open_segment("porch", clock.wall())
        seg_start = time.monotonic()
        while time.monotonic() - seg_start < seg_seconds:
            body = bytes([index % 256]) * frame_bytes
            seg.write(b"FRM" + struct.pack(">II", index, len(body)) + body)
            print(f"W {index}", flush=True)
            index += 1
            if seg.unsealed_age() > MAX_UNSEALED:
                seg.pad(pad_record, min_size=7)
            seg.tick()
            time.sleep(max(0.0, t0 + index / fps - time.monotonic()))
        seg.close(clock.wall())


if __name__ == "__main__":
    main()
