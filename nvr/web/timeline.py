"""One camera's day: ``GET /api/v1/cameras/{camera}/timeline?day=YYYY-MM-DD[&tz=]``.

Answers ``Timeline``: the day's UTC range (``day`` in the IANA zone ``tz``, default UTC,
the same rule as ``/api/v1/events``), ``spans`` (recorded footage: the readable segments,
contiguous ones merged, clipped to the day), ``gaps`` (outages from the gap log with their
reason, clipped to the day; ``end`` is ``null`` while one lasts) and ``events``.

Needs ``footage.view`` on the camera, and NOT the unlock: segment and gap times are in
the clear index. Event kinds and exact times are sealed: with an unlocked session (the
owner's, or a viewer's household key) each event the key opens has ``at``, ``end`` and
``kind`` (and the view writes one ``events.view`` audit entry naming them); otherwise
``events_sealed`` is true, and any event not opened carries only its id and UTC hour
(what the index holds). Playing the footage goes through the
clip route, which needs the unlock.

Also the page ``GET /timeline`` (camera and day pickers; ``web/static/timeline.js``). For
a caller with ``sharing.manage`` (the owner) the page can also select one camera's clip
to share: ``/timeline?request=<id>`` (the request page's "Share…": the requested window
shown as a band) or "Share a clip…" (a personal share, ``share=1``); "Continue" opens
``/share?camera=&start=&end=&request=`` (``nvr.web.share_page``).

No ``from __future__ import annotations``: the handlers' ``Annotated[..., Depends(...)]``
name dependencies built inside the router factory.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Permission
from nvr.crypto import AgeError
from nvr.keys.unlock import Locked
from nvr.record.gaps import GapRow
from nvr.service.unlock import Record
from nvr.storage.segments import SegmentRecord, SegmentStore
from nvr.web.events import (
    DAY_PATTERN,
    DAY_SCHEMA,
    Day,
    EventsSource,
    parse_day,
    visible_cameras,
)
from nvr.web.pages import Pages
from nvr.web.session import Accounts

# Segments closer than this are one span (consecutive segments join exactly; a little
# slack for rounding). A larger hole is a hole, reported or not by the gap log.
JOIN = timedelta(seconds=1)


class Span(BaseModel):
    start: datetime
    end: datetime


class GapOut(BaseModel):
    start: datetime
    end: datetime | None
    reason: str


class TimelineEvent(BaseModel):
    id: int
    hour: datetime
    at: datetime | None
    end: datetime | None
    kind: str | None


class Timeline(BaseModel):
    camera: str
    day: str
    tz: str
    start: datetime
    end: datetime
    spans: list[Span]
    gaps: list[GapOut]
    events: list[TimelineEvent]
    events_sealed: bool


def merge_spans(records: Sequence[SegmentRecord], start: datetime, end: datetime) -> list[Span]:
    """Recorded spans of ``records`` (oldest first) within [start, end), contiguous merged."""
    spans: list[Span] = []
    for rec in records:
        if rec.end is None:
            continue
        lo, hi = max(rec.start, start), min(rec.end, end)
        if lo >= hi:
            continue
        if spans and lo <= spans[-1].end + JOIN:
            if hi > spans[-1].end:
                spans[-1] = Span(start=spans[-1].start, end=hi)
            continue
        spans.append(Span(start=lo, end=hi))
    return spans


def day_gaps(rows: Sequence[GapRow], start: datetime, end: datetime) -> list[GapOut]:
    out = []
    for row in rows:
        if row.start >= end or (row.end is not None and row.end <= start):
            continue
        out.append(
            GapOut(
                start=max(row.start, start),
                end=None if row.end is None else min(row.end, end),
                reason=row.reason,
            )
        )
    return out


def timeline_router(
    accounts: Accounts,
    segments: Callable[[], SegmentStore],
    source: EventsSource,
    record: Record,
) -> APIRouter:
    router = APIRouter(tags=["timeline"])
    Footage = Annotated[Caller, Depends(accounts.authorizer.require(Permission.FOOTAGE_VIEW))]

    def events_of(caller: Caller, camera: str, span: Day) -> tuple[list[TimelineEvent], bool]:
        store = source.store()
        refs = [
            ref
            for ref in store.list(camera, span.start, span.end)
            if ref.hour + timedelta(hours=1) > span.start
        ]
        token = caller.session.unlock_token
        identities = None
        if token is not None:
            try:
                identities = accounts.unlocks.identities(token)
            except Locked:
                identities = None
        if identities is None:
            sealed = [
                TimelineEvent(id=r.id, hour=r.hour, at=None, end=None, kind=None) for r in refs
            ]
            return sealed, True
        out = []
        for ref in refs:
            try:
                event = store.open(ref.id, identities)
            except AgeError:
                out.append(TimelineEvent(id=ref.id, hour=ref.hour, at=None, end=None, kind=None))
                continue
            if span.start <= event.start < span.end:
                out.append(
                    TimelineEvent(
                        id=ref.id, hour=ref.hour, at=event.start, end=event.end, kind=event.type
                    )
                )
        opened = [e.id for e in out if e.at is not None]
        if opened:
            payload = {
                "camera": camera,
                "day": span.day.isoformat(),
                "tz": span.tz,
                "events": opened,
                "via": "timeline",
            }
            record("events.view", payload, actor_of(caller.principal))
        return out, False

    @router.get(
        "/api/v1/cameras/{camera}/timeline",
        summary="A camera's day: recorded spans, outages and events",
    )
    def timeline(
        camera: str,
        caller: Footage,
        day: Annotated[
            str,
            Query(
                pattern=DAY_PATTERN, json_schema_extra=DAY_SCHEMA, description="YYYY-MM-DD in tz"
            ),
        ],
        tz: Annotated[
            str | None, Query(max_length=64, description="IANA time zone, default UTC")
        ] = None,
    ) -> Timeline:
        span = parse_day(day, tz)
        if camera not in source.cameras():
            raise HTTPException(404, f"no camera named '{camera}'")
        records = segments().find(camera, span.start, span.end)
        events, sealed = events_of(caller, camera, span)
        return Timeline(
            camera=camera,
            day=span.day.isoformat(),
            tz=span.tz,
            start=span.start,
            end=span.end,
            spans=merge_spans(records, span.start, span.end),
            gaps=day_gaps(source.gaps(camera), span.start, span.end),
            events=events,
            events_sealed=sealed,
        )

    return router


def add_timeline_page(app: FastAPI, accounts: Accounts, source: EventsSource, pages: Pages) -> None:
    """``GET /timeline``: the page (``web/templates/timeline.html``, ``timeline.js``), on
    the app itself like every page."""
    Footage = Annotated[Caller, Depends(accounts.authorizer.require(Permission.FOOTAGE_VIEW))]

    @app.get("/timeline", response_class=HTMLResponse, include_in_schema=False)
    def timeline_page(request: Request, caller: Footage) -> HTMLResponse:
        return pages.render(
            request,
            "timeline.html",
            caller,
            title="Timeline",
            cameras=visible_cameras(source, caller),
            # The owner may pick a clip to share here (docs/design/share-flow.md).
            can_share=accounts.authorizer.decide(caller.session, Permission.SHARING_MANAGE).allowed,
        )
