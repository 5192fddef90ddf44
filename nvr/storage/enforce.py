"""Applying retention to the real store: gather the facts, ask ``plan_retention``, delete.

"Event footage" (kept ``event_days``) is every segment in a UTC hour in which its camera
has a sealed event: the index knows events only by camera and hour (threat model), so
retention cannot be finer than that without learning more than the disk may reveal.

``Retainer(store, settings)``. ``run(now, need_bytes=0)`` is called periodically by the
service and by the store itself when the disk refuses a write. The limit footage may use
is the smaller of the configured quota and what the volume can hold while keeping a small
reserve free (so the database and logs can still be written when footage fills the disk).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from nvr.db.models import Camera, Event, Hold, Segment
from nvr.storage.retention import Plan, Retention, SegmentView, plan_retention
from nvr.storage.segments import SegmentStore
from nvr.storage.volume import volume_of

log = logging.getLogger(__name__)

FOOTAGE_STATES = ("closed", "truncated", "corrupt", "open")


@dataclass(frozen=True)
class RetentionSettings:
    default: Retention
    per_camera: Mapping[str, Retention] = field(default_factory=dict)
    quota_bytes: int | None = None  # already resolved against the volume size


def hours_spanned(start: datetime, end: datetime) -> list[datetime]:
    """The UTC hour buckets a time range touches (a segment is short: one or two)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    out = []
    while hour <= end:
        out.append(hour)
        hour += timedelta(hours=1)
    return out


class Retainer:
    def __init__(self, store: SegmentStore, settings: RetentionSettings) -> None:
        self.store = store
        self.settings = settings

    def footage(self) -> tuple[list[SegmentView], int]:
        """Every segment as retention sees it, and the bytes all footage uses."""
        with self.store.sessions() as session:
            holds = session.execute(
                select(Hold.camera_id, Hold.start_time, Hold.end_time).where(
                    Hold.released_at.is_(None)
                )
            ).all()
            rows = session.execute(
                select(Segment, Camera.name)
                .join(Camera, Camera.id == Segment.camera_id)
                .where(Segment.state.in_(FOOTAGE_STATES))
            ).all()
            event_hours = {
                (cam, hour)
                for cam, hour in session.execute(select(Event.camera_id, Event.hour_bucket))
            }
            used = (
                session.scalar(
                    select(func.coalesce(func.sum(Segment.size_bytes), 0)).where(
                        Segment.state.in_(FOOTAGE_STATES)
                    )
                )
                or 0
            )
        views = []
        for seg, camera in rows:
            end = seg.end_time or seg.start_time
            held = any(
                (cam is None or cam == seg.camera_id) and start <= end and seg.start_time <= stop
                for cam, start, stop in holds
            )
            views.append(
                SegmentView(
                    seg.id,
                    camera,
                    seg.start_time,
                    end,
                    seg.size_bytes or 0,
                    event=any(
                        (seg.camera_id, hour) in event_hours
                        for hour in hours_spanned(seg.start_time, end)
                    ),
                    held=held,
                    open=seg.state == "open",
                )
            )
        return views, int(used)

    def limit(self, used: int) -> int:
        volume = volume_of(self.store.data_dir)
        disk_limit = used + volume.free - volume.reserve
        quota = self.settings.quota_bytes
        return disk_limit if quota is None else min(quota, disk_limit)

    def run(self, now: datetime, need_bytes: int = 0) -> Plan:
        views, used = self.footage()
        plan = plan_retention(
            views,
            self.settings.per_camera,
            self.settings.default,
            now,
            used_bytes=used,
            limit_bytes=self.limit(used),
            need_bytes=need_bytes,
        )
        if plan.expired:
            self.store.delete(plan.expired, "age")
        if plan.evicted:
            self.store.delete(plan.evicted, "space")
        if plan.short_bytes:
            self.store.alarms["storage_full"] = (
                f"footage needs {plan.short_bytes} more bytes than the quota or disk allows, "
                "and everything left is held, shared or being written"
            )
            log.error(
                "storage full: protected footage alone exceeds the limit",
                extra={"short_bytes": plan.short_bytes},
            )
        else:
            self.store.alarms.pop("storage_full", None)
        return plan
