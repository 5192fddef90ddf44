"""The transparency report, computed from the audit log and nothing else.

``build_report(entries, start=, end=, verified=, checkpoint=)`` is pure: it replays the
decoded audit entries (``request.create``/``update``/``state`` rebuild each request;
``share.release`` and ``share.link.download`` count what left the box) and returns a
``Report``. ``report_from_log(sessions, audit, ...)`` reads the stored log, verifies it
(``AuditLog.verify``: the whole chain and every signed checkpoint) and names the tree size
and the newest signed checkpoint the figures were computed over. There is no separate
tally that could drift from the log.

Period: a request counts when it was *received* within [start, end); a release or a link
download when its entry was written within it. Either bound may be open.

The release kinds are written by the consent/export/link code (issue 7 items 4-6); their
payloads are fixed here and in docs/design/requests.md:
- ``share.release`` ``{request: int|null, consent: str, camera: str, start: str, end: str,
  seconds: int, audio: bool, redacted: bool, recipient: str}``: one clip released;
- ``share.link.download`` ``{link: str, consent: str, request: int|null}``: one download.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.log import AuditLog
from nvr.db.models import AuditCheckpoint, AuditEntry
from nvr.sharing.requests import DECISIONS, State

RELEASE = "share.release"
LINK_DOWNLOAD = "share.link.download"


@dataclass(frozen=True)
class LoggedEntry:
    seq: int
    time: datetime
    kind: str
    payload: dict[str, Any]


@dataclass
class RequestLine:
    id: int
    organisation: str
    basis: str
    received_at: str
    state: str
    decided_at: str | None = None
    response_seconds: int | None = None
    clips: int = 0
    seconds: int = 0


@dataclass(frozen=True)
class AuditBasis:
    """What the figures were computed over: entries 0..tree_size-1."""

    tree_size: int
    verified: bool | None  # None: not checked
    reason: str
    checkpoints: int  # signed checkpoints the verification checked
    checkpoint_size: int | None
    checkpoint_root: str | None


@dataclass
class Report:
    start: str | None
    end: str | None
    requests: int = 0
    by_basis: dict[str, int] = field(default_factory=dict)
    by_organisation: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    declines: int = 0
    decided: int = 0
    response_median_seconds: int | None = None
    response_max_seconds: int | None = None
    clips_released: int = 0
    seconds_released: int = 0
    clips_with_audio: int = 0
    clips_redacted: int = 0
    clips_without_request: int = 0
    link_downloads: int = 0
    lines: list[RequestLine] = field(default_factory=list)
    audit: AuditBasis | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _within(when: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if when is None:
        return False
    return (start is None or when >= start) and (end is None or when < end)


def _median(values: Sequence[int]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2


def build_report(
    entries: Iterable[LoggedEntry],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    audit: AuditBasis | None = None,
) -> Report:
    lines: dict[int, RequestLine] = {}
    received: dict[int, datetime] = {}
    report = Report(
        start=start.isoformat() if start else None, end=end.isoformat() if end else None
    )
    releases: list[tuple[LoggedEntry, int | None]] = []
    for entry in sorted(entries, key=lambda e: e.seq):
        p = entry.payload
        request_id = p.get("request")
        if entry.kind == "request.create" and isinstance(request_id, int):
            when: datetime = _parse_time(p.get("received_at")) or entry.time
            received[request_id] = when
            lines[request_id] = RequestLine(
                id=request_id,
                organisation=str(p.get("organisation", "")),
                basis=str(p.get("basis", "")),
                received_at=when.isoformat(),
                state=str(p.get("state", State.RECEIVED.value)),
            )
        elif entry.kind == "request.update" and request_id in lines:
            line = lines[request_id]
            changes = p.get("changes", {})
            for name in ("organisation", "basis"):
                if name in changes:
                    setattr(line, name, str(changes[name][1]))
            if "received_at" in changes:
                moved = _parse_time(changes["received_at"][1])
                if moved is not None:
                    received[request_id] = moved
                    line.received_at = moved.isoformat()
        elif entry.kind == "request.state" and request_id in lines:
            line = lines[request_id]
            line.state = str(p.get("to", line.state))
            if line.decided_at is None and line.state in DECISIONS:
                line.decided_at = entry.time.isoformat()
                delta = entry.time - received[request_id]
                line.response_seconds = max(0, int(delta.total_seconds()))
        elif entry.kind == RELEASE and _within(entry.time, start, end):
            releases.append((entry, request_id if isinstance(request_id, int) else None))
        elif entry.kind == LINK_DOWNLOAD and _within(entry.time, start, end):
            report.link_downloads += 1

    chosen = [line for rid, line in lines.items() if _within(received[rid], start, end)]
    chosen.sort(key=lambda line: (line.received_at, line.id))
    for entry, request_id in releases:
        seconds = entry.payload.get("seconds")
        seconds = seconds if isinstance(seconds, int) and seconds > 0 else 0
        report.clips_released += 1
        report.seconds_released += seconds
        report.clips_with_audio += entry.payload.get("audio") is True
        report.clips_redacted += entry.payload.get("redacted") is True
        if request_id is None:
            report.clips_without_request += 1
        elif request_id in lines:
            lines[request_id].clips += 1
            lines[request_id].seconds += seconds
    report.requests = len(chosen)
    report.by_basis = dict(sorted(Counter(line.basis for line in chosen).items()))
    report.by_organisation = dict(sorted(Counter(line.organisation for line in chosen).items()))
    report.by_outcome = dict(sorted(Counter(line.state for line in chosen).items()))
    report.declines = report.by_outcome.get(State.DECLINED.value, 0)
    times = [line.response_seconds for line in chosen if line.response_seconds is not None]
    report.decided = len(times)
    report.response_median_seconds = _median(times)
    report.response_max_seconds = max(times) if times else None
    report.lines = chosen
    report.audit = audit
    return report


def report_from_log(
    sessions: sessionmaker[Session],
    audit: AuditLog | None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Report:
    """The report over the stored log; ``audit`` given: verified first (else not checked)."""
    result = audit.verify() if audit is not None else None
    with sessions() as session:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.entry_json).order_by(AuditEntry.seq)
        ).all()
        latest = session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
        ).first()
        checkpoint = (latest.tree_size, latest.root_hash) if latest is not None else (None, None)
    entries = []
    for seq, text in rows:
        data = json.loads(text)
        when = _parse_time(data.get("time"))
        if when is None or not isinstance(data.get("payload"), dict):
            continue
        entries.append(LoggedEntry(seq, when, str(data.get("kind")), data["payload"]))
    basis = AuditBasis(
        tree_size=len(rows),
        verified=None if result is None else result.ok,
        reason="not checked" if result is None else (result.reason or "ok"),
        checkpoints=0 if result is None else result.checkpoints,
        checkpoint_size=checkpoint[0],
        checkpoint_root=checkpoint[1],
    )
    return build_report(entries, start=start, end=end, audit=basis)


def _cell(value: object) -> object:
    """A text cell a spreadsheet will not run: a leading ``= + - @`` (or tab, CR) gets a ``'``."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class _SafeWriter:
    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Sequence[object]) -> None:
        self._writer.writerow([_cell(value) for value in row])


def report_csv(report: Report) -> str:
    """``section,name,value`` rows: the totals, each breakdown, then one row per request
    (its fields as JSON). Organisation names are the owner's typing: cells that would
    start a spreadsheet formula are prefixed with ``'``."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(["section", "name", "value"])
    writer.writerow(["period", "start", report.start or ""])
    writer.writerow(["period", "end", report.end or ""])
    for name in (
        "requests",
        "declines",
        "decided",
        "response_median_seconds",
        "response_max_seconds",
        "clips_released",
        "seconds_released",
        "clips_with_audio",
        "clips_redacted",
        "clips_without_request",
        "link_downloads",
    ):
        value = getattr(report, name)
        writer.writerow(["totals", name, "" if value is None else value])
    for section, counts in (
        ("basis", report.by_basis),
        ("organisation", report.by_organisation),
        ("outcome", report.by_outcome),
    ):
        for name, count in counts.items():
            writer.writerow([section, name, count])
    for line in report.lines:
        writer.writerow(
            [
                "request",
                line.id,
                json.dumps(asdict(line), sort_keys=True, ensure_ascii=False),
            ]
        )
    if report.audit is not None:
        for name, value in asdict(report.audit).items():
            writer.writerow(["audit", name, "" if value is None else value])
    return out.getvalue()
