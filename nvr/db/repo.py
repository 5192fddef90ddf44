"""Reads and writes the service does on the schema, as plain functions over a ``Session``.

Functions flush (so ids exist) but never commit: the caller owns the transaction
(``with factory.begin() as session: ...``). Time is always passed in (``now``), aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nvr.db.models import CAMERA_NAME_MAX, Camera, ServiceRun


@dataclass(frozen=True)
class RunRecord:
    """A service run as plain values, safe to keep after the session is gone."""

    id: int
    started_at: datetime
    stopped_at: datetime | None
    version: str
    clean_shutdown: bool


def ensure_cameras(session: Session, names: Iterable[str], now: datetime) -> dict[str, int]:
    """Register every camera in ``names`` that is not known yet; return ``name -> id``.

    Idempotent. Cameras missing from ``names`` are left alone: their footage still
    refers to them, and deleting them is the owner's decision, not start-up's.
    """
    wanted = sorted(set(names))
    for name in wanted:
        if not name or len(name) > CAMERA_NAME_MAX:
            raise ValueError(f"camera name must be 1-{CAMERA_NAME_MAX} characters: {name!r}")
    if not wanted:
        return {}
    rows = session.execute(select(Camera.name, Camera.id).where(Camera.name.in_(wanted)))
    known = {row.name: row.id for row in rows}
    for name in wanted:
        if name in known:
            continue
        # Another connection may register the same camera between our select and insert
        # (two event writers at once): the unique name then fails only this savepoint,
        # and the row the other one made is the answer.
        try:
            with session.begin_nested():
                camera = Camera(name=name, created_at=now)
                session.add(camera)
            known[name] = camera.id
        except IntegrityError:
            known[name] = session.execute(select(Camera.id).where(Camera.name == name)).scalar_one()
    return {name: known[name] for name in wanted}


def start_run(session: Session, version: str, now: datetime) -> int:
    """Record that the service started at ``now``; return the new run's id."""
    run = ServiceRun(started_at=now, version=version, clean_shutdown=False)
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, now: datetime) -> None:
    """Record a clean shutdown of run ``run_id`` at ``now``.

    Finishing a run twice keeps the first stop time (a second signal during shutdown
    must not move it). An unknown id is a bug in the caller: ``LookupError``.
    """
    run = session.get(ServiceRun, run_id)
    if run is None:
        raise LookupError(f"no service run with id {run_id}")
    if run.stopped_at is None:
        run.stopped_at = now
        run.clean_shutdown = True
        session.flush()


def unclean_previous_runs(
    session: Session, *, current_run_id: int | None = None
) -> list[RunRecord]:
    """Earlier runs that never recorded a clean shutdown (power cut, crash, kill), oldest
    first: the sign that start-up recovery has work to do.

    ``current_run_id`` is excluded; when omitted, the newest run (highest id) is taken to
    be the current one, so call this after ``start_run``. Runs are ordered by id, not by
    ``started_at``: a Pi without a real-time clock can boot with its wall clock in the past.
    """
    if current_run_id is None:
        current_run_id = session.scalar(select(ServiceRun.id).order_by(ServiceRun.id.desc()))
    query = select(ServiceRun).where(ServiceRun.stopped_at.is_(None)).order_by(ServiceRun.id)
    if current_run_id is not None:
        query = query.where(ServiceRun.id != current_run_id)
    return [
        RunRecord(
            id=run.id,
            started_at=run.started_at,
            stopped_at=run.stopped_at,
            version=run.version,
            clean_shutdown=run.clean_shutdown,
        )
        for run in session.scalars(query)
    ]
