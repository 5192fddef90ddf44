"""Which footage to delete, and in what order: one pure function, ``plan_retention``.

Rules (STORAGE.md, "Retention"):
1. Age: a segment older than its camera's limit goes — ``event_days`` for segments that
   hold event footage, ``continuous_days`` for the rest; a limit of 0 means no age limit.
2. Space: while the footage would use more than ``limit_bytes`` (the quota, or what the
   disk can still hold) after rule 1 and with ``need_bytes`` more to write, evict the oldest
   footage: plain continuous footage first (oldest first), then event footage (oldest first).
   Event footage outlives continuous footage under pressure for the same reason it has the
   longer age limit: it is what an owner looks for.
3. Never: the segment being written, held footage (legal hold), shared footage.

Age is judged on a segment's *end*, so a segment is kept until all of it is older than the
limit. The result says what could not be freed (``short_bytes``) so the caller can raise a
health alarm when protected footage alone exceeds the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SegmentView:
    """What retention needs to know about one segment (no key needed for any of it)."""

    id: int
    camera: str
    start: datetime
    end: datetime
    size: int
    event: bool = False
    held: bool = False
    shared: bool = False
    open: bool = False

    @property
    def protected(self) -> bool:
        return self.open or self.held or self.shared


@dataclass(frozen=True)
class Retention:
    continuous_days: int
    event_days: int

    def limit(self, event: bool) -> timedelta | None:
        days = self.event_days if event else self.continuous_days
        return timedelta(days=days) if days > 0 else None


@dataclass(frozen=True)
class Plan:
    expired: list[int] = field(default_factory=list)  # past their age limit
    evicted: list[int] = field(default_factory=list)  # removed for space, in order
    bytes_freed: int = 0
    short_bytes: int = 0  # still over the limit after everything deletable went

    @property
    def delete(self) -> list[int]:
        return self.expired + self.evicted


def plan_retention(
    segments: Iterable[SegmentView],
    retention: Mapping[str, Retention],
    default: Retention,
    now: datetime,
    *,
    used_bytes: int,
    limit_bytes: int | None,
    need_bytes: int = 0,
) -> Plan:
    """Decide what to delete. ``used_bytes`` is what all footage uses now."""
    expired: list[SegmentView] = []
    kept: list[SegmentView] = []
    for seg in segments:
        limit = retention.get(seg.camera, default).limit(seg.event)
        if not seg.protected and limit is not None and seg.end <= now - limit:
            expired.append(seg)
        else:
            kept.append(seg)
    freed = sum(s.size for s in expired)
    evicted: list[SegmentView] = []
    short = 0
    if limit_bytes is not None:
        over = used_bytes - freed + need_bytes - limit_bytes
        candidates = sorted(
            (s for s in kept if not s.protected), key=lambda s: (s.event, s.end, s.id)
        )
        for seg in candidates:
            if over <= 0:
                break
            evicted.append(seg)
            over -= seg.size
            freed += seg.size
        short = max(over, 0)
    expired.sort(key=lambda s: (s.end, s.id))
    return Plan(
        expired=[s.id for s in expired],
        evicted=[s.id for s in evicted],
        bytes_freed=freed,
        short_bytes=short,
    )
