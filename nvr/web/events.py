"""Camera events over HTTP: the sealed event list, one event, its thumbnail, the live stream.

Routes (``events_router``; docs/design/dashboard-footage.md):

- ``GET /api/v1/events?camera=&kind=&day=YYYY-MM-DD&tz=&before=<id>&limit=`` -> ``EventPage``:
  newest first, at most ``limit`` (1-200, default 50) events; ``next_before`` is the
  ``before`` of the next page (``null``: no more). The index holds only an event's camera
  and UTC hour in the clear; its kind and exact times are sealed, so listing decrypts each
  record and needs the session's unlock. Order: by hour, newest first, then by record
  (the order the events were sealed: a motion event is sealed when it ends), newest
  first. ``day`` is a calendar day in the time zone ``tz`` (an IANA name, default UTC; the
  pages send the browser's): an event is on that day when its start is. A page opens at
  most ``MAX_SCAN`` records: with a rare ``kind`` a page can hold fewer than ``limit``
  events while ``next_before`` is still set.
- ``GET /api/v1/events/{event_id}`` -> ``EventInfo`` (the opened record);
  ``GET /api/v1/events/{event_id}/thumbnail.jpg`` -> the JPEG (``no-store``; 404 when the
  event has none).
- ``GET /api/v1/events/stream``: server-sent events from the live ``EventBus``:
  ``event: camera-event`` with ``data: {"camera","kind","phase","at"}`` (``at`` ISO UTC),
  a ``: heartbeat`` comment every ``heartbeat`` seconds, only the caller's cameras. No
  unlock needed (nothing sealed is sent). The stream ends when the session ends (checked
  every ``session_check`` seconds without refreshing its idle timer) or when
  ``EventStreams.close()`` is called (the service does, before its servers stop: uvicorn
  waits for open responses).

Authorization: ``events.view`` through the one table. A viewer's list is narrowed to
their cameras (``Decision.cameras``); an event-id route looks the event's camera up in the
clear index and refuses (403) a camera the caller may not see, before anything is
decrypted. Then: no key on this account (installers; viewers without a household
member key) 403; footage locked 401. A household member's key opens only what was
sealed after it was added: a list leaves the rest out, an id route answers 403.

Audit: a list writes one ``events.view`` entry (the query and the ids shown); opening
one event writes one; a thumbnail writes one only when its event was not already named
in an ``events.view`` entry of the same session (so a page of 50 thumbnails is one
entry, the list's, and a thumbnail fetched by id alone is still recorded).

No ``from __future__ import annotations``: the handlers' ``Annotated[..., Depends(...)]``
name dependencies built inside the router factory.
"""

import asyncio
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Permission, Role
from nvr.crypto import AgeError, Identity, NoIdentityMatchError
from nvr.db.models import Camera, Event
from nvr.events import EventBus, LiveEvent, LiveSubscription
from nvr.keys.unlock import Locked
from nvr.record.gaps import GapRow
from nvr.service.unlock import Record
from nvr.storage.sealed import EVENT_TYPES, EventDetails, EventStore, hour_bucket
from nvr.web.errors import error_response
from nvr.web.pages import Pages
from nvr.web.session import Accounts

log = logging.getLogger(__name__)

NO_KEY = "this account has no key to open recorded footage yet"
LOCKED = "footage is locked: enter the key passphrase to open it"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SCAN = 1000  # records opened for one list page at most
BATCH = 100  # index rows read at a time
HEARTBEAT_SECONDS = 15.0
SESSION_CHECK_SECONDS = 5.0
STREAM_QUEUE = 100

Kind = Literal["motion", "doorbell", "camera_motion"]


@dataclass(frozen=True)
class EventsSource:
    """What the event, timeline and page routes read; built by the service (or a test).
    ``store`` is the sealed event store, ``gaps(camera)`` the camera's outages (the gap
    log), ``cameras()`` every camera the index knows, ``streams`` the live stream (``None``:
    no ``/api/v1/events/stream`` route)."""

    store: Callable[[], EventStore]
    gaps: Callable[[str], Sequence[GapRow]]
    cameras: Callable[[], Sequence[str]]
    streams: "EventStreams | None" = None


# -- days -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    """A calendar day in a time zone, as a UTC instant range [start, end)."""

    day: date
    tz: str
    start: datetime
    end: datetime


def zone_of(tz: str | None) -> ZoneInfo:
    name = tz or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise HTTPException(
            400, f"tz: not a known time zone name (e.g. 'Europe/Berlin'): {name!r}"
        ) from None


def parse_day(day: str, tz: str | None) -> Day:
    """``day`` (YYYY-MM-DD) in ``tz`` (IANA name, default UTC). Not a calendar date: 422
    (the schema says ``format: date``); a zone the box does not know, or a day at the edge
    of the calendar: 400 (what a schema cannot say). The range follows the zone's rules,
    so a DST change day lasts 23 or 25 h."""
    try:
        when = date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        when = None
    if when is None:
        raise HTTPException(422, f"day: not a calendar date (YYYY-MM-DD): {day!r}")
    zone = zone_of(tz)
    try:
        start = datetime(when.year, when.month, when.day, tzinfo=zone).astimezone(UTC)
        following = when + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        end = end.astimezone(UTC)
    except (OverflowError, ValueError):
        raise HTTPException(400, f"day: out of range: {day!r}") from None
    return Day(when, zone.key, start, end)


# ``day`` in a query: the schema says what a date looks like (422 otherwise).
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DAY_SCHEMA = {"format": "date"}


# -- models ---------------------------------------------------------------------------


class EventSummary(BaseModel):
    """One event of a list. ``kind``, ``start`` and ``end`` come from the sealed record;
    ``error`` is set (and they are ``null``) when the record failed to open (tampered
    or corrupt: ``nvr storage verify`` says more)."""

    id: int
    camera: str
    hour: datetime
    kind: str | None
    start: datetime | None
    end: datetime | None
    has_thumbnail: bool
    error: str | None = None


class EventPage(BaseModel):
    events: list[EventSummary]
    next_before: int | None
    day_start: datetime | None = None
    day_end: datetime | None = None


class EventInfo(EventSummary):
    peak_score: float | None
    zones: list[Any]
    boxes: list[Any]
    details: dict[str, Any]


def summary(event: EventDetails) -> EventSummary:
    return EventSummary(
        id=event.id,
        camera=event.camera,
        hour=event.hour,
        kind=event.type,
        start=event.start,
        end=event.end,
        has_thumbnail=event.has_thumbnail,
    )


BROKEN = "the sealed record failed authentication (tampered or corrupt)"
BROKEN_RESPONSE = error_response("the sealed record failed authentication (tampered or corrupt)")
NOT_YOURS = "this account's key does not open this event (it was kept before the key was added)"


def not_for_this_key(exc: AgeError, owner: bool) -> bool:
    """A household member's key does not open what was sealed before it was added: not an
    error, just not theirs to see. For the owner, whose key opens every record, the same
    failure means a file that is not the box's own (a tampered record)."""
    return isinstance(exc, NoIdentityMatchError) and not owner


# -- reading the index and the records (synchronous: worker threads) -----------------


@dataclass(frozen=True)
class Query_:
    cameras: frozenset[str] | None  # None: all
    kind: str | None
    since: datetime | None
    until: datetime | None
    before: int | None
    limit: int


def _cursor(store: EventStore, before: int) -> tuple[datetime, int] | None:
    with store.sessions() as session:
        hour = session.scalar(select(Event.hour_bucket).where(Event.id == before))
    return None if hour is None else (hour, before)


def list_events(
    store: EventStore,
    identities: Sequence[Identity],
    query: Query_,
    *,
    max_scan: int = MAX_SCAN,
    owner: bool = True,
) -> tuple[list[EventSummary], int | None]:
    """A page of events, newest first (see the module docstring), and the next cursor.
    ``owner=False`` (a household member's key): events the key does not open are left
    out."""
    where: list[Any] = []
    if query.cameras is not None:
        where.append(Camera.name.in_(sorted(query.cameras)))
    if query.since is not None:
        where.append(Event.hour_bucket >= hour_bucket(query.since))
    if query.until is not None:
        where.append(Event.hour_bucket < query.until)
    cursor = _cursor(store, query.before) if query.before is not None else None
    if query.before is not None and cursor is None:
        raise HTTPException(400, f"before: no event with id {query.before}")
    out: list[EventSummary] = []
    scanned = 0
    while True:
        page = select(Event.id, Camera.name, Event.hour_bucket).join(
            Camera, Camera.id == Event.camera_id
        )
        if where:
            page = page.where(*where)
        if cursor is not None:
            hour, last = cursor
            page = page.where(
                or_(Event.hour_bucket < hour, and_(Event.hour_bucket == hour, Event.id < last))
            )
        page = page.order_by(Event.hour_bucket.desc(), Event.id.desc()).limit(BATCH)
        with store.sessions() as session:
            rows = session.execute(page).all()
        if not rows:
            return out, None
        for event_id, camera, hour in rows:
            cursor = (hour, event_id)
            scanned += 1
            item = _open_summary(store, identities, event_id, camera, hour, owner)
            if item is not None and _matches(item, query):
                out.append(item)
            if len(out) >= query.limit or scanned >= max_scan:
                return out, event_id
        if len(rows) < BATCH:
            return out, None


def _open_summary(
    store: EventStore,
    identities: Sequence[Identity],
    event_id: int,
    camera: str,
    hour: datetime,
    owner: bool,
) -> EventSummary | None:
    try:
        return summary(store.open(event_id, identities))
    except AgeError as exc:
        if not_for_this_key(exc, owner):
            return None
        log.error(
            "event record failed authentication", extra={"event": event_id, "reason": str(exc)}
        )
        return EventSummary(
            id=event_id,
            camera=camera,
            hour=hour,
            kind=None,
            start=None,
            end=None,
            has_thumbnail=False,
            error=BROKEN,
        )


def _matches(item: EventSummary, query: Query_) -> bool:
    if item.error is not None:
        # Cannot tell its kind or time: shown in unfiltered lists only, never hidden there.
        return query.kind is None and query.since is None
    if query.kind is not None and item.kind != query.kind:
        return False
    if query.since is not None and item.start is not None and item.start < query.since:
        return False
    return not (query.until is not None and item.start is not None and item.start >= query.until)


# -- audit: who saw which events ------------------------------------------------------


class Shown:
    """Event ids already named in an ``events.view`` entry, per session (bounded): their
    thumbnails are not audited again."""

    def __init__(self, sessions: int = 64, per_session: int = 2000) -> None:
        self._seen: OrderedDict[str, OrderedDict[int, None]] = OrderedDict()
        self._sessions = sessions
        self._per_session = per_session
        self._lock = threading.Lock()

    def add(self, session: str, ids: Sequence[int]) -> None:
        with self._lock:
            seen = self._seen.pop(session, None) or OrderedDict()
            self._seen[session] = seen
            for event_id in ids:
                seen.pop(event_id, None)
                seen[event_id] = None
            while len(seen) > self._per_session:
                seen.popitem(last=False)
            while len(self._seen) > self._sessions:
                self._seen.popitem(last=False)

    def has(self, session: str, event_id: int) -> bool:
        with self._lock:
            seen = self._seen.get(session)
            return seen is not None and event_id in seen


# -- the live stream ------------------------------------------------------------------


def sse_message(event: LiveEvent) -> str:
    """One ``camera-event`` server-sent event."""
    data = {
        "camera": event.camera,
        "kind": event.kind,
        "phase": event.phase,
        "at": event.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    return f"event: camera-event\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class EventStreams:
    """The open ``/api/v1/events/stream`` responses. ``close()`` ends them all (and any
    opened later): call it on the event loop before the HTTP server stops."""

    def __init__(
        self,
        bus: EventBus,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        session_check: float = SESSION_CHECK_SECONDS,
    ) -> None:
        self.bus = bus
        self.heartbeat = heartbeat
        self.session_check = session_check
        self.closed = False
        self._open: set[LiveSubscription] = set()

    @property
    def open(self) -> int:
        return len(self._open)

    def close(self) -> None:
        self.closed = True
        for sub in list(self._open):
            sub.close()

    async def messages(
        self, cameras: frozenset[str] | None, alive: Callable[[], bool]
    ) -> AsyncIterator[str]:
        """The body of one stream; see the module docstring."""
        if self.closed:
            return
        loop = asyncio.get_running_loop()
        sub = self.bus.subscribe(STREAM_QUEUE)
        self._open.add(sub)
        try:
            # Said at once: the browser (and a test) knows the subscription is in place.
            yield "retry: 5000\n: connected\n\n"
            next_beat = loop.time() + self.heartbeat
            while True:
                now = loop.time()
                if now >= next_beat:
                    if not alive():
                        return
                    yield ": heartbeat\n\n"
                    next_beat = now + self.heartbeat
                    continue
                wait = min(next_beat - now, self.session_check)
                try:
                    event = await asyncio.wait_for(sub.get(), wait)
                except TimeoutError:
                    if not alive():
                        return
                    continue
                except StopAsyncIteration:
                    return
                if not alive():
                    return
                if cameras is None or event.camera in cameras:
                    yield sse_message(event)
        finally:
            sub.close()
            self._open.discard(sub)


# -- the router -----------------------------------------------------------------------


def is_owner(caller: Caller) -> bool:
    return caller.principal.role is Role.OWNER


def refused(exc: AgeError, event_id: int, caller: Caller) -> HTTPException:
    """403 for an event a household key does not open, 409 for a failed record."""
    if not_for_this_key(exc, is_owner(caller)):
        return HTTPException(403, NOT_YOURS)
    return HTTPException(409, f"event {event_id}: {BROKEN}")


def unlocked_identities(accounts: Accounts, caller: Caller) -> list[Identity]:
    """The caller's open keys: 403 without a key on the account, 401 when locked."""
    token = caller.session.unlock_token
    if token is None:
        raise HTTPException(403, NO_KEY)
    try:
        return list(accounts.unlocks.identities(token))
    except Locked:
        raise HTTPException(401, LOCKED) from None


def events_router(
    accounts: Accounts,
    source: EventsSource,
    record: Record,
    *,
    max_scan: int = MAX_SCAN,
) -> APIRouter:
    router = APIRouter(tags=["events"])
    Viewing = Annotated[Caller, Depends(accounts.authorizer.require(Permission.EVENTS_VIEW))]
    shown = Shown()

    def audit(caller: Caller, payload: dict[str, Any], ids: Sequence[int]) -> None:
        record("events.view", payload, actor_of(caller.principal))
        shown.add(caller.session.key, ids)

    def allowed_camera(caller: Caller, event_id: int) -> tuple[EventStore, str]:
        """404 for an unknown event, 403 for one of a camera the caller may not see."""
        store = source.store()
        with store.sessions() as session:
            camera = session.scalar(
                select(Camera.name)
                .join(Event, Event.camera_id == Camera.id)
                .where(Event.id == event_id)
            )
        if camera is None:
            raise HTTPException(404, f"no event with id {event_id}")
        cameras = caller.decision.cameras
        if cameras is not None and camera not in cameras:
            raise HTTPException(403, f"the owner has not allowed this account camera '{camera}'")
        return store, camera

    if source.streams is not None:
        streams = source.streams

        @router.get(
            "/api/v1/events/stream",
            summary="Live camera events (server-sent events)",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}},
        )
        async def stream(caller: Viewing) -> StreamingResponse:
            key = caller.session.key
            return StreamingResponse(
                streams.messages(caller.decision.cameras, lambda: accounts.sessions.alive(key)),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )

    @router.get("/api/v1/events", summary="Camera events, newest first (needs the unlock)")
    def list_route(
        caller: Viewing,
        camera: Annotated[str | None, Query(max_length=128)] = None,
        kind: Kind | None = None,
        day: Annotated[
            str | None,
            Query(
                pattern=DAY_PATTERN, json_schema_extra=DAY_SCHEMA, description="YYYY-MM-DD in tz"
            ),
        ] = None,
        tz: Annotated[
            str | None, Query(max_length=64, description="IANA time zone, default UTC")
        ] = None,
        before: Annotated[int | None, Query(ge=1)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> EventPage:
        allowed = caller.decision.cameras
        if camera is not None and allowed is not None and camera not in allowed:
            raise HTTPException(403, f"the owner has not allowed this account camera '{camera}'")
        span = parse_day(day, tz) if day is not None else None
        if tz is not None and span is None:
            zone_of(tz)
        cameras = frozenset({camera}) if camera is not None else allowed
        identities = unlocked_identities(accounts, caller)
        query = Query_(
            cameras=cameras,
            kind=kind,
            since=span.start if span else None,
            until=span.end if span else None,
            before=before,
            limit=limit,
        )
        items, next_before = list_events(
            source.store(), identities, query, max_scan=max_scan, owner=is_owner(caller)
        )
        ids = [item.id for item in items]
        payload = {
            "query": {
                k: v
                for k, v in {
                    "camera": camera,
                    "kind": kind,
                    "day": day,
                    "tz": span.tz if span else None,
                    "before": before,
                    "limit": limit,
                }.items()
                if v is not None
            },
            "events": ids,
        }
        audit(caller, payload, ids)
        return EventPage(
            events=items,
            next_before=next_before,
            day_start=span.start if span else None,
            day_end=span.end if span else None,
        )

    @router.get(
        "/api/v1/events/{event_id}",
        summary="One event's sealed record, opened",
        responses={409: BROKEN_RESPONSE},
    )
    def detail_route(event_id: int, caller: Viewing) -> EventInfo:
        store, _ = allowed_camera(caller, event_id)
        identities = unlocked_identities(accounts, caller)
        try:
            event = store.open(event_id, identities)
        except LookupError:
            raise HTTPException(404, f"no event with id {event_id}") from None
        except AgeError as exc:
            raise refused(exc, event_id, caller) from None
        audit(caller, {"camera": event.camera, "events": [event_id]}, [event_id])
        return EventInfo(
            **summary(event).model_dump(),
            peak_score=event.peak_score,
            zones=event.zones,
            boxes=event.boxes,
            details=event.details,
        )

    @router.get(
        "/api/v1/events/{event_id}/thumbnail.jpg",
        summary="An event's thumbnail, decrypted",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}, 409: BROKEN_RESPONSE},
    )
    def thumbnail_route(event_id: int, caller: Viewing) -> Response:
        store, camera = allowed_camera(caller, event_id)
        identities = unlocked_identities(accounts, caller)
        try:
            jpeg = store.thumbnail(event_id, identities)
        except LookupError:
            raise HTTPException(404, f"no event with id {event_id}") from None
        except AgeError as exc:
            raise refused(exc, event_id, caller) from None
        if jpeg is None:
            raise HTTPException(404, f"event {event_id} has no thumbnail")
        if not shown.has(caller.session.key, event_id):
            audit(caller, {"camera": camera, "events": [event_id], "thumbnail": True}, [event_id])
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    return router


def add_events_page(app: FastAPI, accounts: Accounts, source: EventsSource, pages: Pages) -> None:
    """``GET /events``: the page (``web/templates/events.html``, ``web/static/events.js``),
    on the app itself like every page."""
    Viewing = Annotated[Caller, Depends(accounts.authorizer.require(Permission.EVENTS_VIEW))]

    @app.get("/events", response_class=HTMLResponse, include_in_schema=False)
    def events_page(request: Request, caller: Viewing) -> HTMLResponse:
        return pages.render(
            request,
            "events.html",
            caller,
            title="Events",
            cameras=visible_cameras(source, caller),
            kinds=EVENT_TYPES,
        )


def known_cameras(sessions: sessionmaker[Session]) -> list[str]:
    """Every camera the index knows (configured, or with footage or events), sorted."""
    with sessions() as session:
        return sorted(session.scalars(select(Camera.name)))


def visible_cameras(source: EventsSource, caller: Caller | None) -> list[str]:
    """The index's cameras the caller may see, sorted."""
    names = set(source.cameras())
    allowed = caller.decision.cameras if caller is not None else None
    if allowed is not None:
        names &= allowed
    return sorted(names)
