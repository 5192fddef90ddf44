"""The request log: every request for footage the owner received, and what became of it.

``RequestLog(sessions, record, clock)``:
- ``create(fields, actor)`` -> ``RequestView``: a new request in state ``received``;
- ``update(id, fields, actor)``: changes fields (only those given, only if they differ);
- ``transition(id, to, reason, actor)``: moves the state along ``TRANSITIONS`` (anything
  else raises ``IllegalTransition``); a reason is required;
- ``get``, ``list(state=, basis=, overdue=)``, ``history(id)``.

Nothing is ever deleted, and the design makes that hard to do by accident: there is no
delete function here, no DELETE route, and the ORM refuses to delete a request, a change or
a paperwork row (``before_delete`` listeners raise ``NothingDeleted``). Every change is
- an audit entry (``request.create``, ``request.update``, ``request.state``,
  ``request.paperwork``; payloads in docs/design/requests.md) that carries the full change
  (for an update, each field's old and new value), so the history and the transparency
  report can be rebuilt from the signed log alone; and
- a ``RequestChange`` row with the same JSON and the entry's ``seq`` (the page's timeline).

The request's fields are plaintext in the database, like the audit log that must carry
them; the paperwork (``Paperwork``) is sealed to the owner's keys like footage: the body in
``sealed/paperwork/<uuid>.age``, its name, type and hash in a small sealed blob on the row,
so even the list of documents needs the unlock.

All I/O is synchronous: call from a worker thread (FastAPI runs sync routes in one).
"""

from __future__ import annotations

import builtins
import enum
import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Mapper, Session, sessionmaker

from nvr.audit.entry import Actor
from nvr.clock import Clock
from nvr.crypto import Identity, Recipient
from nvr.db.models import DataRequest, RequestChange, RequestPaper
from nvr.errors import UserError
from nvr.keys.files import seal, unseal, write_private

Record = Callable[[str, dict[str, Any], Actor], int]

DUE_SOON = timedelta(hours=48)
PAPERWORK_DIR = Path("sealed") / "paperwork"
MAX_PAPER_BYTES = 20 * 1024 * 1024
PAPER_FORMAT = "porchlight.paperwork.v1"


class LegalBasis(enum.StrEnum):
    VOLUNTARY = "voluntary"
    PRESERVATION = "preservation"
    SUBPOENA = "subpoena"
    COURT_ORDER = "court_order"
    SEARCH_WARRANT = "search_warrant"
    EMERGENCY_CLAIM = "emergency_claim"


class Channel(enum.StrEnum):
    IN_PERSON = "in_person"
    LETTER = "letter"
    EMAIL = "email"
    PHONE = "phone"
    PORTAL = "portal"
    OTHER = "other"


class State(enum.StrEnum):
    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    FULFILLED = "fulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


# The allowed moves, all of them. Declining is possible straight from ``received`` (one
# click); a release (fulfilled, partially fulfilled) only after review. The five outcomes
# are final: a request answered wrongly is corrected with a note, not by reopening it.
TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.RECEIVED: frozenset({State.UNDER_REVIEW, State.DECLINED, State.EXPIRED, State.WITHDRAWN}),
    State.UNDER_REVIEW: frozenset(
        {
            State.FULFILLED,
            State.PARTIALLY_FULFILLED,
            State.DECLINED,
            State.EXPIRED,
            State.WITHDRAWN,
        }
    ),
    State.FULFILLED: frozenset(),
    State.PARTIALLY_FULFILLED: frozenset(),
    State.DECLINED: frozenset(),
    State.EXPIRED: frozenset(),
    State.WITHDRAWN: frozenset(),
}
OPEN_STATES = frozenset({State.RECEIVED, State.UNDER_REVIEW})
# The states that answer a request (the report's response time ends at the first of them).
DECISIONS = frozenset({State.FULFILLED, State.PARTIALLY_FULFILLED, State.DECLINED})

# The fields a request has, in the order the page shows them.
TEXT_FIELDS = ("organisation", "person", "badge", "contact", "reference", "reason", "notes")
TIME_FIELDS = ("received_at", "deadline", "window_start", "window_end")
FIELDS = (*TEXT_FIELDS, "basis", "channel", *TIME_FIELDS, "cameras")


class RequestError(UserError):
    """Bad input a schema cannot express (a window that ends before it starts ...)."""


class NoSuchRequest(UserError):
    pass


class IllegalTransition(UserError):
    pass


class NothingDeleted(RuntimeError):
    """Raised by the ORM on any attempt to delete a request, a change or a paperwork row."""


def _refuse_delete(mapper: Mapper[Any], connection: object, target: object) -> None:
    raise NothingDeleted(
        f"{type(target).__name__} rows are never deleted (docs/design/requests.md)"
    )


for _model in (DataRequest, RequestChange, RequestPaper):
    event.listen(_model, "before_delete", _refuse_delete)


@dataclass(frozen=True)
class RequestView:
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


@dataclass(frozen=True)
class ChangeView:
    at: datetime
    actor: Actor
    kind: str
    changes: dict[str, Any]
    audit_seq: int


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def json_value(name: str, value: object) -> object:
    """A field's value as the audit entry carries it (no floats, times as ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if name == "cameras" and isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return value


def deadline_flags(state: State, deadline: datetime | None, now: datetime) -> tuple[bool, bool]:
    """(overdue, due soon): only for open requests with a deadline; due soon = within 48 h."""
    if deadline is None or state not in OPEN_STATES:
        return False, False
    if deadline < now:
        return True, False
    return False, deadline - now <= DUE_SOON


def _check(values: Mapping[str, Any]) -> None:
    if not str(values["organisation"]).strip():
        raise RequestError("a request needs the organisation (or person) that asked")
    start, end = values["window_start"], values["window_end"]
    if (start is None) != (end is None):
        raise RequestError("the requested window needs both a start and an end, or neither")
    if start is not None and end is not None and end <= start:
        raise RequestError("the requested window must end after it starts")
    received, deadline = values["received_at"], values["deadline"]
    if deadline is not None and deadline < received:
        raise RequestError("the deadline is before the request was received")


class RequestLog:
    def __init__(self, sessions: sessionmaker[Session], record: Record, clock: Clock) -> None:
        self._sessions = sessions
        self._record = record
        self._clock = clock

    # -- reading -----------------------------------------------------------------------------
    def _view(self, row: DataRequest, now: datetime) -> RequestView:
        state = State(row.state)
        overdue, due_soon = deadline_flags(state, row.deadline, now)
        return RequestView(
            id=row.id,
            organisation=row.organisation,
            person=row.person,
            badge=row.badge,
            contact=row.contact,
            reference=row.reference,
            basis=LegalBasis(row.basis),
            channel=Channel(row.channel),
            received_at=row.received_at,
            deadline=row.deadline,
            window_start=row.window_start,
            window_end=row.window_end,
            cameras=list(json.loads(row.cameras)),
            reason=row.reason,
            notes=row.notes,
            state=state,
            created_at=row.created_at,
            updated_at=row.updated_at,
            overdue=overdue,
            due_soon=due_soon,
            allowed=sorted(TRANSITIONS[state]),
        )

    def get(self, request_id: int) -> RequestView:
        with self._sessions() as session:
            row = session.get(DataRequest, request_id)
            if row is None:
                raise NoSuchRequest(f"no request {request_id}")
            return self._view(row, self._clock.wall())

    def list(
        self,
        *,
        state: State | None = None,
        basis: LegalBasis | None = None,
        overdue: bool | None = None,
    ) -> builtins.list[RequestView]:
        """Newest received first; ``overdue`` filters on the computed flag."""
        now = self._clock.wall()
        query = select(DataRequest).order_by(DataRequest.received_at.desc(), DataRequest.id.desc())
        if state is not None:
            query = query.where(DataRequest.state == state.value)
        if basis is not None:
            query = query.where(DataRequest.basis == basis.value)
        with self._sessions() as session:
            views = [self._view(row, now) for row in session.scalars(query)]
        if overdue is not None:
            views = [v for v in views if v.overdue is overdue]
        return views

    def reminders(self) -> builtins.list[RequestView]:
        """Open requests whose deadline is past or within 48 h (the dashboard banner)."""
        now = self._clock.wall()
        query = select(DataRequest).where(
            DataRequest.state.in_([s.value for s in OPEN_STATES]),
            DataRequest.deadline.is_not(None),
            DataRequest.deadline <= now + DUE_SOON,
        )
        with self._sessions() as session:
            rows = list(session.scalars(query.order_by(DataRequest.deadline)))
            return [self._view(row, now) for row in rows]

    def history(self, request_id: int) -> builtins.list[ChangeView]:
        with self._sessions() as session:
            if session.get(DataRequest, request_id) is None:
                raise NoSuchRequest(f"no request {request_id}")
            rows = session.scalars(
                select(RequestChange)
                .where(RequestChange.request_id == request_id)
                .order_by(RequestChange.id)
            )
            return [
                ChangeView(
                    r.at,
                    Actor(r.actor_role, r.actor_user),
                    r.kind,
                    json.loads(r.changes),
                    r.audit_seq,
                )
                for r in rows
            ]

    # -- writing -----------------------------------------------------------------------------
    def _log(
        self, request_id: int, kind: str, changes: dict[str, Any], actor: Actor, now: datetime
    ) -> int:
        """The audit entry, then the change row that names it (two transactions: the audit
        log has its own; a crash between leaves the entry, which is the record that counts)."""
        seq = self._record(f"request.{kind}", {"request": request_id, **changes}, actor)
        with self._sessions.begin() as session:
            session.add(
                RequestChange(
                    request_id=request_id,
                    at=now,
                    actor_role=actor.role,
                    actor_user=actor.user,
                    kind=kind,
                    changes=json.dumps(changes, ensure_ascii=False, sort_keys=True),
                    audit_seq=seq,
                )
            )
        return seq

    def create(self, fields: Mapping[str, Any], actor: Actor) -> RequestView:
        values = {name: fields.get(name) for name in FIELDS}
        for name in TEXT_FIELDS:
            values[name] = str(values[name] or "").strip()
        values["cameras"] = sorted(set(values["cameras"] or []))
        values["basis"] = LegalBasis(str(values["basis"]))
        values["channel"] = Channel(str(values["channel"] or Channel.OTHER.value))
        if values["received_at"] is None:
            values["received_at"] = self._clock.wall()
        _check(values)
        now = self._clock.wall()
        with self._sessions.begin() as session:
            row = DataRequest(
                **{k: v for k, v in values.items() if k not in ("cameras", "basis", "channel")},
                basis=str(values["basis"]),
                channel=str(values["channel"]),
                cameras=json.dumps(values["cameras"]),
                state=State.RECEIVED.value,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            request_id = row.id
        payload = {name: json_value(name, values[name]) for name in FIELDS}
        self._log(request_id, "create", {**payload, "state": State.RECEIVED.value}, actor, now)
        return self.get(request_id)

    def update(self, request_id: int, fields: Mapping[str, Any], actor: Actor) -> RequestView:
        """Change the fields given (``None`` clears an optional one); no change, no entry."""
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise RequestError(f"not a request field: {', '.join(sorted(unknown))}")
        now = self._clock.wall()
        with self._sessions.begin() as session:
            row = session.get(DataRequest, request_id)
            if row is None:
                raise NoSuchRequest(f"no request {request_id}")
            current: dict[str, Any] = {name: getattr(row, name) for name in FIELDS}
            current["cameras"] = json.loads(row.cameras)
            current["basis"] = LegalBasis(row.basis)
            current["channel"] = Channel(row.channel)
            new = dict(current)
            for name, value in fields.items():
                if name in TEXT_FIELDS:
                    value = str(value or "").strip()
                elif name == "cameras":
                    value = sorted(set(value or []))
                elif name in ("basis", "channel", "received_at") and value is None:
                    raise RequestError(f"{name} cannot be cleared")
                elif name == "basis":
                    value = LegalBasis(value)
                elif name == "channel":
                    value = Channel(value)
                new[name] = value
            _check(new)
            changes = {
                name: [json_value(name, current[name]), json_value(name, new[name])]
                for name in FIELDS
                if new[name] != current[name]
            }
            if not changes:
                return self._view(row, now)
            for name in changes:
                value = new[name]
                if name == "cameras":
                    value = json.dumps(value)
                elif isinstance(value, enum.Enum):
                    value = value.value
                setattr(row, name, value)
            row.updated_at = now
        self._log(request_id, "update", {"changes": changes}, actor, now)
        return self.get(request_id)

    def transition(self, request_id: int, to: State, reason: str, actor: Actor) -> RequestView:
        reason = reason.strip()
        if not reason:
            raise RequestError("a state change needs a reason (it goes in the audit log)")
        now = self._clock.wall()
        with self._sessions.begin() as session:
            row = session.get(DataRequest, request_id)
            if row is None:
                raise NoSuchRequest(f"no request {request_id}")
            before = State(row.state)
            if to not in TRANSITIONS[before]:
                allowed = ", ".join(sorted(TRANSITIONS[before])) or "none: it is final"
                raise IllegalTransition(
                    f"request {request_id} is {before.value}: it cannot become {to.value} "
                    f"(allowed: {allowed})"
                )
            row.state = to.value
            row.updated_at = now
        self._log(
            request_id,
            "state",
            {"from": before.value, "to": to.value, "reason": reason},
            actor,
            now,
        )
        return self.get(request_id)

    def note_paperwork(self, request_id: int, paper_id: int, size: int, actor: Actor) -> None:
        """The audit entry for an upload (its name and hash stay sealed)."""
        self._log(
            request_id, "paperwork", {"paper": paper_id, "size": size}, actor, self._clock.wall()
        )


# -- paperwork ---------------------------------------------------------------------------------
# What an upload may be, and the first bytes each must start with.
PAPER_TYPES: Mapping[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


class PaperTooLarge(UserError):
    pass


class PaperType(UserError):
    """Not paperwork: ``declared_ok`` when the Content-Type was fine but the bytes are not."""

    def __init__(self, message: str, *, declared_ok: bool = False) -> None:
        super().__init__(message)
        self.declared_ok = declared_ok


@dataclass(frozen=True)
class PaperMeta:
    id: int
    name: str
    content_type: str
    length: int
    sha256: str
    uploaded_at: datetime


def check_paper(content_type: str, body: bytes) -> str:
    """The content type, normalised, if ``body`` is one of ``PAPER_TYPES``: else ``PaperType``."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in PAPER_TYPES:
        raise PaperType(f"paperwork must be a PDF, JPEG or PNG, not {kind or 'unnamed'}")
    if not body.startswith(PAPER_TYPES[kind]):
        raise PaperType(
            f"the file is not a {kind} (its first bytes say otherwise)", declared_ok=True
        )
    if len(body) > MAX_PAPER_BYTES:
        raise PaperTooLarge(f"paperwork is limited to {MAX_PAPER_BYTES // (1024 * 1024)} MiB")
    return kind


def safe_name(name: str) -> str:
    """A file name fit for a Content-Disposition header: no path, no control characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '";')
    return cleaned.strip()[:120] or "paperwork"


class Paperwork:
    """Sealed documents of a request under ``data_dir/sealed/paperwork``."""

    def __init__(
        self,
        data_dir: Path,
        sessions: sessionmaker[Session],
        recipients: Callable[[], Sequence[Recipient]],
        clock: Clock,
    ) -> None:
        self._root = data_dir
        self._sessions = sessions
        self._recipients = recipients
        self._clock = clock

    def add(self, request_id: int, name: str, content_type: str, body: bytes) -> PaperMeta:
        """Seal and store ``body``; no key needed (sealing is to the public recipients)."""
        kind = check_paper(content_type, body)
        recipients = list(self._recipients())
        if not recipients:
            raise UserError("no owner keys yet: paperwork cannot be sealed")
        rel = PAPERWORK_DIR / f"{uuid.uuid4()}.age"
        meta = {
            "format": PAPER_FORMAT,
            "request": request_id,
            "path": rel.as_posix(),
            "name": safe_name(name),
            "content_type": kind,
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        sealed_body = seal(body, recipients)
        sealed_meta = seal(json.dumps(meta, sort_keys=True).encode(), recipients)
        now = self._clock.wall()
        with self._sessions.begin() as session:
            if session.get(DataRequest, request_id) is None:
                raise NoSuchRequest(f"no request {request_id}")
            folder = self._root / PAPERWORK_DIR
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(self._root / rel, sealed_body)
            paper = RequestPaper(
                request_id=request_id,
                path=rel.as_posix(),
                size=len(sealed_body),
                meta_sealed=sealed_meta,
                uploaded_at=now,
            )
            session.add(paper)
            session.flush()
            paper_id = paper.id
        return PaperMeta(paper_id, str(meta["name"]), kind, len(body), str(meta["sha256"]), now)

    def _meta(self, paper: RequestPaper, identities: Sequence[Identity]) -> PaperMeta:
        meta = json.loads(unseal(paper.meta_sealed, identities))
        if meta.get("path") != paper.path or meta.get("request") != paper.request_id:
            raise UserError(f"paperwork {paper.id}: the sealed record names another file")
        return PaperMeta(
            paper.id,
            str(meta["name"]),
            str(meta["content_type"]),
            int(meta["length"]),
            str(meta["sha256"]),
            paper.uploaded_at,
        )

    def list(self, request_id: int, identities: Sequence[Identity]) -> builtins.list[PaperMeta]:
        with self._sessions() as session:
            rows = list(
                session.scalars(
                    select(RequestPaper)
                    .where(RequestPaper.request_id == request_id)
                    .order_by(RequestPaper.id)
                )
            )
        return [self._meta(row, identities) for row in rows]

    def open(
        self, request_id: int, paper_id: int, identities: Sequence[Identity]
    ) -> tuple[PaperMeta, bytes]:
        with self._sessions() as session:
            paper = session.get(RequestPaper, paper_id)
            if paper is None or paper.request_id != request_id:
                raise NoSuchRequest(f"no paperwork {paper_id} on request {request_id}")
            meta = self._meta(paper, identities)
            path = self._root / paper.path
        body = unseal(path.read_bytes(), identities)
        if hashlib.sha256(body).hexdigest() != meta.sha256:
            raise UserError(f"paperwork {paper_id}: the file is not the one that was sealed")
        return meta, body
