"""Legal holds: footage of a camera (or every camera) in a time range that retention must
keep until the hold is released. Holds are never deleted; placing and releasing one are
audit entries. Retention reads them in ``nvr.storage.enforce``. A hold may name the request
(``nvr.sharing.requests``) it serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nvr.db.models import Camera, Hold
from nvr.errors import UserError
from nvr.storage.segments import AuditFn


@dataclass(frozen=True)
class HoldRecord:
    id: int
    camera: str | None
    start: datetime
    end: datetime
    reason: str
    created_at: datetime
    released_at: datetime | None


def place_hold(
    sessions: sessionmaker[Session],
    audit: AuditFn,
    *,
    camera: str | None,
    start: datetime,
    end: datetime,
    reason: str,
    now: datetime,
    request_id: int | None = None,
) -> int:
    if end <= start:
        raise UserError("a hold needs its end after its start")
    if not reason.strip():
        raise UserError("a hold needs a reason (for example the case or request it serves)")
    with sessions.begin() as session:
        camera_id = None
        if camera is not None:
            camera_id = session.scalar(select(Camera.id).where(Camera.name == camera))
            if camera_id is None:
                raise UserError(f"no camera named {camera!r} has ever recorded here")
        hold = Hold(
            camera_id=camera_id,
            start_time=start,
            end_time=end,
            reason=reason,
            created_at=now,
            request_id=request_id,
        )
        session.add(hold)
        session.flush()
        hold_id = hold.id
    audit(
        "hold.place",
        {
            "hold": hold_id,
            "camera": camera,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "reason": reason,
            "request": request_id,
        },
    )
    return hold_id


def release_hold(
    sessions: sessionmaker[Session], audit: AuditFn, hold_id: int, now: datetime
) -> None:
    with sessions.begin() as session:
        hold = session.get(Hold, hold_id)
        if hold is None:
            raise UserError(f"no hold {hold_id}")
        if hold.released_at is not None:
            raise UserError(
                f"hold {hold_id} was already released at {hold.released_at:%Y-%m-%d %H:%M}"
            )
        hold.released_at = now
    audit("hold.release", {"hold": hold_id})


def list_holds(sessions: sessionmaker[Session]) -> list[HoldRecord]:
    with sessions() as session:
        rows = session.execute(
            select(Hold, Camera.name)
            .outerjoin(Camera, Camera.id == Hold.camera_id)
            .order_by(Hold.id)
        ).all()
        return [
            HoldRecord(h.id, name, h.start_time, h.end_time, h.reason, h.created_at, h.released_at)
            for h, name in rows
        ]
