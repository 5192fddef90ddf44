"""Outages of a camera's recording, as rows of the ``gaps`` table.

``Outage(camera, start, end, reason)`` is what the recorder reports through its ``on_gap``
callback: once with ``end=None`` when it notices an outage while it lasts (no packet for a
while), and once with ``end`` set when footage flows again (a reconnect noticed only when
the new connection's first packet arrives is reported once, complete). ``GapLog`` is the
callback that stores them: it opens a row, and closes the open row of the same camera, or
inserts a closed one. ``gaps(sessions, camera)`` reads them back. Database I/O: call from
worker threads (the recorder's own thread does), never the event loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nvr.clock import Clock
from nvr.db.models import Camera, Gap
from nvr.db.repo import ensure_cameras


@dataclass(frozen=True)
class Outage:
    camera: str
    start: datetime  # the last packet before the outage (its end, on the footage timeline)
    end: datetime | None  # the first packet after it; None while it lasts
    reason: str  # "reconnect" | "no_packets" | "disk_full" | "error"


class GapLog:
    """Stores ``Outage`` reports; usable as the recorder's ``on_gap``. Thread-safe."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, outage: Outage) -> None:
        with self._lock, self._sessions.begin() as session:
            row_id = self._open.pop(outage.camera, None)
            row = session.get(Gap, row_id) if row_id is not None else None
            if row is None:
                camera_id = ensure_cameras(session, [outage.camera], self._clock.wall())[
                    outage.camera
                ]
                row = Gap(camera_id=camera_id, start_time=outage.start, reason=outage.reason)
                session.add(row)
            row.end_time = outage.end
            session.flush()
            if outage.end is None:
                self._open[outage.camera] = row.id


@dataclass(frozen=True)
class GapRow:
    id: int
    start: datetime
    end: datetime | None
    reason: str


def gaps(sessions: sessionmaker[Session], camera: str) -> list[GapRow]:
    """Every recorded outage of ``camera``, oldest first."""
    with sessions() as session:
        rows = session.execute(
            select(Gap)
            .join(Camera, Camera.id == Gap.camera_id)
            .where(Camera.name == camera)
            .order_by(Gap.start_time, Gap.id)
        ).scalars()
        return [GapRow(r.id, r.start_time, r.end_time, r.reason) for r in rows]
