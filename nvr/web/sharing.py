"""Requests, legal holds and the transparency report: the owner's pages and JSON API.

``sharing_router(accounts, sharing)`` and ``add_sharing_pages(app, accounts, sharing,
pages)`` are installed by ``create_app`` when the service passes ``sharing=Sharing(...)``.
Every route is the owner's (the table: ``requests.manage``, ``holds.manage``,
``report.view``); every change is an audit entry (``nvr.sharing.requests``).

Requests (``requests.manage``; docs/design/requests.md):
- ``GET /api/v1/requests?state=&basis=&overdue=``, ``POST /api/v1/requests`` (201),
  ``GET /api/v1/requests/{id}`` (the request, its change history and the guidance for its
  legal basis), ``PATCH /api/v1/requests/{id}`` (the fields given),
  ``POST /api/v1/requests/{id}/state`` ``{to, reason}`` (409 for a move the state machine
  does not allow), ``POST /api/v1/requests/{id}/decline`` ``{reason}`` (one call).
- Paperwork, sealed: ``POST /api/v1/requests/{id}/paperwork?name=`` with the file as the
  body (PDF, JPEG or PNG by Content-Type and first bytes, else 415; over 20 MiB 413);
  ``GET .../paperwork`` (names need the unlock: 401 locked) and
  ``GET .../paperwork/{paper}`` (the document; an audit entry).
- There is no DELETE: a request is never removed.

Holds (``holds.manage``): ``GET /api/v1/holds``, ``POST /api/v1/holds`` ``{camera|null,
start, end, reason, request|null}`` (201), ``POST /api/v1/holds/{id}/release``.

Report (``report.view``): ``GET /api/v1/report?start=&end=&format=json|csv``; pages
``/report`` (period selector) and ``/report/print`` (printable), both rendered on the
server from the same ``Report`` (nothing to load: printing works without script).

No ``from __future__ import annotations`` (FastAPI reads the annotations at runtime).
"""

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from nvr.audit.entry import Actor
from nvr.audit.log import AuditLog
from nvr.auth.deps import Caller
from nvr.auth.login import actor_of
from nvr.auth.policy import Permission
from nvr.clock import Clock
from nvr.config.cameras import CameraConfig
from nvr.crypto import AgeError
from nvr.db.models import Hold
from nvr.errors import UserError
from nvr.sharing.guidance import DISCLAIMER, GUIDANCE
from nvr.sharing.report import Report, report_csv, report_from_log
from nvr.sharing.requests import (
    MAX_PAPER_BYTES,
    Channel,
    IllegalTransition,
    LegalBasis,
    NoSuchRequest,
    PaperTooLarge,
    PaperType,
    Paperwork,
    RequestError,
    RequestLog,
    RequestView,
    State,
)
from nvr.storage.holds import list_holds, place_hold, release_hold
from nvr.web.consents import Exports
from nvr.web.errors import error_response
from nvr.web.events import unlocked_identities
from nvr.web.pages import Pages
from nvr.web.session import Accounts

Record = Callable[[str, dict[str, Any], Actor], int]

# An RFC 3339 time with a zone (the report's period bounds in the API).
INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$"
PAPER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in ("application/pdf", "image/jpeg", "image/png")
        },
    }
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: error_response("not allowed in the request's (or hold's) current state")
}
UPLOAD: dict[int | str, dict[str, Any]] = {
    413: error_response("the file is larger than 20 MiB"),
    415: error_response("the Content-Type is not PDF, JPEG or PNG"),
}


def no_masks(camera: str) -> Sequence[Sequence[tuple[float, float]]]:
    """``Sharing.privacy_masks`` when the service gives none."""
    return ()


def config_masks(
    cameras: Callable[[], Sequence[CameraConfig]],
) -> Callable[[str], Sequence[Sequence[tuple[float, float]]]]:
    """``Sharing.privacy_masks`` over the config's cameras as they are now (``cameras()``
    is asked each time: the cameras page edits them while the service runs)."""

    def masks(camera: str) -> Sequence[Sequence[tuple[float, float]]]:
        for cam in cameras():
            if cam.name == camera:
                return [[(x, y) for x, y in mask.points] for mask in cam.privacy_masks]
        return ()

    return masks


@dataclass(frozen=True)
class Sharing:
    """What the sharing routes work on; the service builds it from its box."""

    db: sessionmaker[Session]
    requests: RequestLog
    paperwork: Paperwork
    record: Record
    clock: Clock
    audit: AuditLog | None = None  # the report verifies it when given
    exports: Exports | None = None  # consents, export bundles, previews (nvr.web.consents)
    # A camera's privacy masks from the config (polygons of (x, y) fractions), which the
    # share page applies by default (nvr.web.share_page); none without it.
    privacy_masks: Callable[[str], Sequence[Sequence[tuple[float, float]]]] = no_masks


# -- bodies ------------------------------------------------------------------------------------
class RequestFields(BaseModel):
    model_config = {"extra": "forbid"}
    organisation: str = Field(min_length=1, max_length=200)
    person: str = Field(default="", max_length=200)
    badge: str = Field(default="", max_length=100)
    contact: str = Field(default="", max_length=300)
    reference: str = Field(default="", max_length=200)
    basis: LegalBasis
    channel: Channel = Channel.OTHER
    received_at: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    cameras: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=32
    )
    reason: str = Field(default="", max_length=2000)
    notes: str = Field(default="", max_length=10000)


class RequestPatch(BaseModel):
    model_config = {"extra": "forbid"}
    organisation: str | None = Field(default=None, min_length=1, max_length=200)
    person: str | None = Field(default=None, max_length=200)
    badge: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=300)
    reference: str | None = Field(default=None, max_length=200)
    basis: LegalBasis | None = None
    channel: Channel | None = None
    received_at: AwareDatetime | None = None
    deadline: AwareDatetime | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    cameras: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=32
    )
    reason: str | None = Field(default=None, max_length=2000)
    notes: str | None = Field(default=None, max_length=10000)


class StateChange(BaseModel):
    model_config = {"extra": "forbid"}
    to: State
    reason: str = Field(min_length=1, max_length=2000)


class Decline(BaseModel):
    model_config = {"extra": "forbid"}
    reason: str = Field(default="declined by the owner", min_length=1, max_length=2000)


class RequestOut(BaseModel):
    id: int
    organisation: str
    person: str
    badge: str
    contact: str
    reference: str
    basis: LegalBasis
    channel: Channel
    received_at: datetime
    deadline: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    cameras: list[str]
    reason: str
    notes: str
    state: State
    created_at: datetime
    updated_at: datetime
    overdue: bool
    due_soon: bool
    allowed: list[State]


class RequestList(BaseModel):
    requests: list[RequestOut]


class ChangeOut(BaseModel):
    at: datetime
    role: str
    user: str | None
    kind: str
    changes: dict[str, Any]
    audit_seq: int


class GuidanceOut(BaseModel):
    title: str
    means: str
    you_may: list[str]
    compels: bool
    disclaimer: str


class RequestDetail(BaseModel):
    request: RequestOut
    history: list[ChangeOut]
    guidance: GuidanceOut


class PaperOut(BaseModel):
    id: int
    name: str
    content_type: str
    length: int
    sha256: str
    uploaded_at: datetime


class PaperList(BaseModel):
    paperwork: list[PaperOut]


class HoldIn(BaseModel):
    model_config = {"extra": "forbid"}
    camera: str | None = Field(default=None, min_length=1, max_length=64)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1, max_length=500)
    request: int | None = Field(default=None, ge=1, le=2**53 - 1)


class HoldOut(BaseModel):
    id: int
    camera: str | None
    start: datetime
    end: datetime
    reason: str
    request: int | None
    created_at: datetime
    released_at: datetime | None


class HoldList(BaseModel):
    holds: list[HoldOut]


def request_out(view: RequestView) -> RequestOut:
    return RequestOut(**dataclasses.asdict(view))


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def sharing_router(accounts: Accounts, sharing: Sharing) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    auth = accounts.authorizer
    Manager = Annotated[Caller, Depends(auth.require(Permission.REQUESTS_MANAGE))]
    Holder = Annotated[Caller, Depends(auth.require(Permission.HOLDS_MANAGE))]
    Reporter = Annotated[Caller, Depends(auth.require(Permission.REPORT_VIEW))]
    log = sharing.requests

    def refusal(exc: UserError) -> HTTPException:
        if isinstance(exc, NoSuchRequest):
            return HTTPException(404, exc.message)
        if isinstance(exc, IllegalTransition):
            return HTTPException(409, exc.message)
        if isinstance(exc, RequestError):
            return HTTPException(400, exc.message)
        return HTTPException(409, exc.message)

    # -- requests -------------------------------------------------------------------------------
    @router.get("/requests", tags=["requests"], summary="Requests for footage, newest first")
    def list_requests(
        _: Manager,
        state: State | None = None,
        basis: LegalBasis | None = None,
        overdue: bool | None = None,
    ) -> RequestList:
        views = log.list(state=state, basis=basis, overdue=overdue)
        return RequestList(requests=[request_out(v) for v in views])

    @router.post("/requests", tags=["requests"], summary="Record a request", status_code=201)
    def create_request(body: RequestFields, caller: Manager) -> RequestOut:
        fields = body.model_dump()
        for name in ("received_at", "deadline", "window_start", "window_end"):
            fields[name] = _utc(fields[name])
        try:
            view = log.create(fields, actor_of(caller.principal))
        except UserError as exc:
            raise refusal(exc) from None
        return request_out(view)

    @router.get("/requests/{request_id}", tags=["requests"], summary="A request and its history")
    def get_request(
        request_id: Annotated[int, Field(ge=1, le=2**53 - 1)], _: Manager
    ) -> RequestDetail:
        try:
            view = log.get(request_id)
            history = log.history(request_id)
        except UserError as exc:
            raise refusal(exc) from None
        guide = GUIDANCE[view.basis]
        return RequestDetail(
            request=request_out(view),
            history=[
                ChangeOut(
                    at=c.at,
                    role=c.actor.role,
                    user=c.actor.user,
                    kind=c.kind,
                    changes=c.changes,
                    audit_seq=c.audit_seq,
                )
                for c in history
            ],
            guidance=GuidanceOut(
                title=guide.title,
                means=guide.means,
                you_may=list(guide.you_may),
                compels=guide.compels,
                disclaimer=DISCLAIMER,
            ),
        )

    @router.patch("/requests/{request_id}", tags=["requests"], summary="Change a request's fields")
    def update_request(
        request_id: Annotated[int, Field(ge=1, le=2**53 - 1)], body: RequestPatch, caller: Manager
    ) -> RequestOut:
        fields = body.model_dump(exclude_unset=True)
        for name in ("received_at", "deadline", "window_start", "window_end"):
            if name in fields:
                fields[name] = _utc(fields[name])
        try:
            view = log.update(request_id, fields, actor_of(caller.principal))
        except UserError as exc:
            raise refusal(exc) from None
        return request_out(view)

    @router.post(
        "/requests/{request_id}/state",
        tags=["requests"],
        summary="Move a request to another state",
        responses=CONFLICT,
    )
    def change_state(
        request_id: Annotated[int, Field(ge=1, le=2**53 - 1)], body: StateChange, caller: Manager
    ) -> RequestOut:
        try:
            view = log.transition(request_id, body.to, body.reason, actor_of(caller.principal))
        except UserError as exc:
            raise refusal(exc) from None
        return request_out(view)

    @router.post(
        "/requests/{request_id}/decline",
        tags=["requests"],
        summary="Decline a request (one call)",
        responses=CONFLICT,
    )
    def decline(
        request_id: Annotated[int, Field(ge=1, le=2**53 - 1)], body: Decline, caller: Manager
    ) -> RequestOut:
        try:
            view = log.transition(
                request_id, State.DECLINED, body.reason, actor_of(caller.principal)
            )
        except UserError as exc:
            raise refusal(exc) from None
        return request_out(view)

    # -- paperwork ------------------------------------------------------------------------------
    @router.post(
        "/requests/{request_id}/paperwork",
        tags=["requests"],
        summary="Attach paperwork (the file is the body; stored sealed)",
        status_code=201,
        responses=UPLOAD,
        openapi_extra=PAPER_BODY,
    )
    async def upload(
        request_id: Annotated[int, Field(ge=1, le=2**53 - 1)],
        request: Request,
        caller: Manager,
        name: Annotated[str, Query(min_length=1, max_length=200)] = "paperwork",
    ) -> PaperOut:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_PAPER_BYTES:
            raise HTTPException(413, f"paperwork is limited to {MAX_PAPER_BYTES // 2**20} MiB")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_PAPER_BYTES:
                raise HTTPException(413, f"paperwork is limited to {MAX_PAPER_BYTES // 2**20} MiB")
            chunks.append(chunk)
        body = b"".join(chunks)
        content_type = request.headers.get("content-type", "")

        def store() -> PaperOut:
            try:
                meta = sharing.paperwork.add(request_id, name, content_type, body)
            except PaperType as exc:
                # Not one of the types: 415; one of them but not its bytes: 400.
                raise HTTPException(400 if exc.declared_ok else 415, exc.message) from None
            except PaperTooLarge as exc:
                raise HTTPException(413, exc.message) from None
            except UserError as exc:
                raise refusal(exc) from None
            log.note_paperwork(request_id, meta.id, len(body), actor_of(caller.principal))
            return PaperOut(**dataclasses.asdict(meta))

        return await run_in_threadpool(store)

    @router.get(
        "/requests/{request_id}/paperwork",
        tags=["requests"],
        summary="A request's paperwork (needs the unlock)",
        responses=CONFLICT,
    )
    def list_paperwork(
        request_id: Annotated[int, Field(ge=1, le=2**53 - 1)], caller: Manager
    ) -> PaperList:
        identities = unlocked_identities(accounts, caller)
        try:
            log.get(request_id)
            papers = sharing.paperwork.list(request_id, identities)
        except AgeError as exc:
            raise HTTPException(409, f"paperwork cannot be opened: {exc}") from None
        except UserError as exc:
            raise refusal(exc) from None
        return PaperList(paperwork=[PaperOut(**dataclasses.asdict(m)) for m in papers])

    @router.get(
        "/requests/{request_id}/paperwork/{paper_id}",
        tags=["requests"],
        summary="One document (needs the unlock)",
        response_class=Response,
        responses={**CONFLICT, 200: {"content": {"application/octet-stream": {}}}},
    )
    def open_paperwork(
        request_id: Annotated[int, Field(ge=1, le=2**53 - 1)],
        paper_id: Annotated[int, Field(ge=1, le=2**53 - 1)],
        caller: Manager,
    ) -> Response:
        identities = unlocked_identities(accounts, caller)
        try:
            meta, body = sharing.paperwork.open(request_id, paper_id, identities)
        except AgeError as exc:
            raise HTTPException(409, f"paperwork cannot be opened: {exc}") from None
        except UserError as exc:
            raise refusal(exc) from None
        sharing.record(
            "request.paperwork.open",
            {"request": request_id, "paper": paper_id},
            actor_of(caller.principal),
        )
        return Response(
            body,
            media_type=meta.content_type,
            headers={"Content-Disposition": disposition(meta.name)},
        )

    # -- holds ----------------------------------------------------------------------------------
    def hold_out(record: Any, request_of: dict[int, int | None]) -> HoldOut:
        return HoldOut(
            id=record.id,
            camera=record.camera,
            start=record.start,
            end=record.end,
            reason=record.reason,
            request=request_of.get(record.id),
            created_at=record.created_at,
            released_at=record.released_at,
        )

    def holds_now() -> list[HoldOut]:
        with sharing.db() as session:
            rows = session.execute(select(Hold.id, Hold.request_id)).all()
        request_of: dict[int, int | None] = {row[0]: row[1] for row in rows}
        return [hold_out(h, request_of) for h in list_holds(sharing.db)]

    @router.get("/holds", tags=["holds"], summary="Legal holds (current and released)")
    def get_holds(_: Holder) -> HoldList:
        return HoldList(holds=holds_now())

    @router.post("/holds", tags=["holds"], summary="Hold footage from retention", status_code=201)
    def add_hold(body: HoldIn, caller: Holder) -> HoldOut:
        actor = actor_of(caller.principal)
        start, end = body.start.astimezone(UTC), body.end.astimezone(UTC)
        if body.request is not None:
            try:
                log.get(body.request)
            except UserError as exc:
                raise HTTPException(400, exc.message) from None
        try:
            hold_id = place_hold(
                sharing.db,
                lambda kind, payload: sharing.record(kind, payload, actor),
                camera=body.camera,
                start=start,
                end=end,
                reason=body.reason.strip(),
                now=sharing.clock.wall(),
                request_id=body.request,
            )
        except UserError as exc:
            raise HTTPException(400, exc.message) from None
        return next(h for h in holds_now() if h.id == hold_id)

    @router.post(
        "/holds/{hold_id}/release",
        tags=["holds"],
        summary="Release a legal hold",
        responses=CONFLICT,
    )
    def release(hold_id: Annotated[int, Field(ge=1, le=2**53 - 1)], caller: Holder) -> HoldOut:
        actor = actor_of(caller.principal)
        if not any(h.id == hold_id for h in holds_now()):
            raise HTTPException(404, f"no hold {hold_id}")
        try:
            release_hold(
                sharing.db,
                lambda kind, payload: sharing.record(kind, payload, actor),
                hold_id,
                sharing.clock.wall(),
            )
        except UserError as exc:
            raise HTTPException(409, exc.message) from None
        return next(h for h in holds_now() if h.id == hold_id)

    # -- the report -----------------------------------------------------------------------------
    @router.get(
        "/report",
        tags=["report"],
        summary="The transparency report (JSON or CSV), from the audit log",
        response_model=None,
        responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
    )
    def report(
        _: Reporter,
        start: Annotated[str | None, Query(pattern=INSTANT, max_length=40)] = None,
        end: Annotated[str | None, Query(pattern=INSTANT, max_length=40)] = None,
        format: Literal["json", "csv"] = "json",
    ) -> Response | dict[str, Any]:
        built = build(sharing, _instant(start, "start"), _instant(end, "end"))
        if format == "csv":
            return Response(
                report_csv(built),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": 'attachment; filename="transparency-report.csv"'},
            )
        return built.as_json()

    return router


def period(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Aware UTC bounds (a naive time is taken as UTC); 400 when the end is not after the start."""
    bounds = [
        None if v is None else (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
        for v in (start, end)
    ]
    if bounds[0] is not None and bounds[1] is not None and bounds[1] <= bounds[0]:
        raise HTTPException(400, "the report period must end after it starts")
    return bounds[0], bounds[1]


def build(sharing: Sharing, start: datetime | None, end: datetime | None) -> Report:
    lower, upper = period(start, end)
    return report_from_log(sharing.db, sharing.audit, start=lower, end=upper)


def add_sharing_pages(app: FastAPI, accounts: Accounts, sharing: Sharing, pages: Pages) -> None:
    """The pages, on the app itself (out of the OpenAPI schema; the route matrix finds them)."""
    auth = accounts.authorizer
    Manager = Annotated[Caller, Depends(auth.require(Permission.REQUESTS_MANAGE))]
    Reporter = Annotated[Caller, Depends(auth.require(Permission.REPORT_VIEW))]
    pages.reminders = sharing.requests.reminders
    pages.templates.env.filters["duration"] = duration

    @app.get("/requests", response_class=HTMLResponse, include_in_schema=False)
    def requests_page(request: Request, caller: Manager) -> HTMLResponse:
        return pages.render(
            request,
            "requests.html",
            caller,
            title="Requests",
            bases=list(LegalBasis),
            states=list(State),
        )

    @app.get("/requests/new", response_class=HTMLResponse, include_in_schema=False)
    def new_request_page(request: Request, caller: Manager) -> HTMLResponse:
        return pages.render(
            request,
            "request_new.html",
            caller,
            title="New request",
            bases=list(LegalBasis),
            channels=list(Channel),
            guidance=GUIDANCE,
            disclaimer=DISCLAIMER,
        )

    @app.get("/requests/{request_id}", response_class=HTMLResponse, include_in_schema=False)
    def request_page(
        request: Request, request_id: Annotated[int, Field(ge=1, le=2**53 - 1)], caller: Manager
    ) -> HTMLResponse:
        try:
            sharing.requests.get(request_id)
        except NoSuchRequest as exc:
            raise HTTPException(404, exc.message) from None
        return pages.render(
            request, "request.html", caller, title=f"Request {request_id}", request_id=request_id
        )

    def report_page(
        request: Request,
        caller: Caller,
        template: str,
        start: str | None,
        end: str | None,
    ) -> HTMLResponse:
        lower = _day(start, "start")
        upper = _day(end, "end")
        if upper is not None:
            upper += timedelta(days=1)  # the end day is included
        built = build(sharing, lower, upper)
        query = urlencode(
            {k: v.isoformat() for k, v in (("start", lower), ("end", upper)) if v is not None}
        )
        return pages.render(
            request,
            template,
            caller,
            title="Transparency report",
            report=built,
            start=start or "",
            end=end or "",
            api_query=query,
            now=sharing.clock.wall().strftime("%Y-%m-%d %H:%M UTC"),
        )

    @app.get("/report", response_class=HTMLResponse, include_in_schema=False)
    def report_html(
        request: Request, caller: Reporter, start: str | None = None, end: str | None = None
    ) -> HTMLResponse:
        return report_page(request, caller, "report.html", start, end)

    @app.get("/report/print", response_class=HTMLResponse, include_in_schema=False)
    def report_print(
        request: Request, caller: Reporter, start: str | None = None, end: str | None = None
    ) -> HTMLResponse:
        return report_page(request, caller, "report_print.html", start, end)


def disposition(name: str) -> str:
    """``attachment`` with the name: an ASCII fallback and the UTF-8 original (RFC 6266)."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _instant(value: str | None, what: str) -> datetime | None:
    """An RFC 3339 time from the query (the pattern already checked its shape)."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{what} is not a valid time") from None


def duration(seconds: int | None) -> str:
    """A response time for people: "3 d 4 h", "2 h 5 min", "40 s"; "-" for none."""
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def _day(value: str | None, what: str) -> datetime | None:
    """A ``YYYY-MM-DD`` from the period form, as midnight UTC; empty is open."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise HTTPException(400, f"the period's {what} is not a date (YYYY-MM-DD)") from None
    return datetime.combine(day, time(), tzinfo=UTC)
