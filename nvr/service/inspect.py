"""What ``nvr status`` reports: the box as its files and database show it, read-only.

``inspect_box(cfg, now)`` opens nothing for writing: it does not migrate the database,
create keys or certificates, or touch footage. It reads the config, the key folder, the
TLS certificate, the service-run, segment and gap rows, and the data directory's volume,
and tries one TCP connection to the dashboard port to tell "running" from "stopped".
The service itself reports live camera health on ``/api/v1/health``; this is what an
installer can see over SSH with the service stopped, hung or running.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from nvr.config import Config
from nvr.db import make_engine
from nvr.db.migrate import HEAD, current
from nvr.db.models import Camera, DataRequest, Gap, Segment, ServiceRun
from nvr.errors import UserError
from nvr.keys.store import KeyError_, KeyStore
from nvr.storage.volume import volume_of
from nvr.web.tls import CERT_NAME, fingerprint

CONNECT_TIMEOUT = 0.5
DEMO_CAMERA = "demo-doorbell"  # nvr.service.cameras.DEMO_CAMERA, without importing PyAV
SETUP_CODE_FILE = "setup-code"  # nvr.web.setup.CODE_FILE, without importing FastAPI


@dataclass(frozen=True)
class CameraReport:
    name: str
    configured: bool
    segments: int = 0
    footage_bytes: int = 0
    last_footage: datetime | None = None
    offline_since: datetime | None = None  # an open gap
    offline_reason: str | None = None


@dataclass(frozen=True)
class StatusReport:
    data_dir: Path
    service: str  # running | stopped | crashed | never started | unknown
    dashboard: str
    listening: bool
    tls_fingerprint: str | None
    keys: str  # ready | missing | invalid: ...
    database: str  # ok | needs migration ... | error: ...
    setup_url: str | None = None  # the first-run link while no owner exists
    last_start: datetime | None = None
    last_stop: datetime | None = None
    version: str | None = None
    disk_total: int | None = None
    disk_free: int | None = None
    cameras: list[CameraReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _dashboard(cfg: Config) -> tuple[str, str]:
    """(URL to show, host to connect to) for the configured bind address and port."""
    bind = cfg.server.bind
    wildcard = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104
    host = wildcard.get(bind, bind)
    shown = f"[{host}]" if ":" in host else host
    return f"https://{shown}:{cfg.server.port}/", host


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False


def _tls_fingerprint(cfg: Config) -> str | None:
    tls = cfg.server.tls
    own = tls.cert if tls.mode == "files" else None
    cert = own or cfg.storage.data_dir / "tls" / CERT_NAME
    try:
        return fingerprint(Path(cert).read_bytes())
    except (OSError, ValueError):
        return None


def _keys(data_dir: Path) -> str:
    keys = KeyStore(data_dir)
    if not keys.exists():
        return "missing"
    try:
        keys.recipients()
    except KeyError_ as exc:
        return f"invalid: {exc.message}"
    return "ready"


def inspect_box(cfg: Config, *, demo: bool = False) -> StatusReport:
    """Everything ``nvr status`` prints (see the module docstring)."""
    data_dir = cfg.storage.data_dir
    url, host = _dashboard(cfg)
    listening = _listening(host, cfg.server.port)
    problems: list[str] = []
    names = [c.name for c in cfg.cameras]
    if demo or cfg.demo_wanted():
        names.insert(0, DEMO_CAMERA)
    base = StatusReport(
        data_dir=data_dir,
        service="unknown",
        dashboard=url,
        listening=listening,
        tls_fingerprint=_tls_fingerprint(cfg),
        keys=_keys(data_dir) if data_dir.is_dir() else "missing",
        database="ok",
        cameras=[CameraReport(name, True) for name in names],
        problems=problems,
    )
    if not data_dir.is_dir():
        problems.append(f"data directory {data_dir} does not exist: the service never ran here")
        return replace(base, service="never started", database="missing")
    volume = volume_of(data_dir)
    base = replace(base, disk_total=volume.total, disk_free=volume.free)
    if volume.low:
        problems.append("the disk is almost full: retention is deleting the oldest footage")
    code_file = data_dir / SETUP_CODE_FILE
    if code_file.is_file():
        try:
            code = code_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            code = ""
        if code:
            base = replace(base, setup_url=f"{url}setup?code={code}")
            problems.append(f"no owner yet: finish the first run at {base.setup_url}")
    if base.keys != "ready" and base.setup_url is None:
        problems.append(
            f"owner keys {base.keys}: nothing is recorded until they exist"
            " (the dashboard's first run, or 'nvr keys init')"
        )
    url_db = cfg.database_url()
    try:
        revision = current(url_db)
    except UserError as exc:
        problems.append(f"database: {exc.message}")
        return replace(base, database=f"error: {exc.message}")
    if revision is None:
        return replace(base, service="never started", database="empty")
    if revision != HEAD:
        problems.append(f"database at revision {revision}, this version needs {HEAD}")
        return replace(base, database=f"needs migration ({revision} -> {HEAD})")
    engine = make_engine(url_db)
    try:
        with engine.connect() as conn:
            run = conn.execute(select(ServiceRun).order_by(ServiceRun.id.desc()).limit(1)).first()
            per_camera = _camera_rows(conn, names)
            problems.extend(_deadlines(conn, datetime.now(UTC)))
    finally:
        engine.dispose()
    if run is None:
        service = "never started"
    elif run.stopped_at is None:
        service = "running" if listening else "crashed"
        if service == "crashed":
            problems.append(
                "the last run did not stop cleanly and the dashboard does not answer:"
                " the service is down (power cut, crash or killed)"
            )
    else:
        service = "running" if listening else "stopped"
    return replace(
        base,
        service=service,
        last_start=run.started_at if run else None,
        last_stop=run.stopped_at if run else None,
        version=run.version if run else None,
        cameras=per_camera,
    )


def _deadlines(conn: Connection, now: datetime) -> list[str]:
    """A problem per open request whose deadline is past or within 48 hours."""
    rows = conn.execute(
        select(DataRequest.id, DataRequest.organisation, DataRequest.deadline)
        .where(
            DataRequest.state.in_(("received", "under_review")),
            DataRequest.deadline.is_not(None),
            DataRequest.deadline <= now + timedelta(hours=48),
        )
        .order_by(DataRequest.deadline)
    ).all()
    found = []
    for rid, organisation, deadline in rows:
        if deadline is None:
            continue
        when = deadline.strftime("%Y-%m-%d %H:%M UTC")
        late = "was due" if deadline < now else "is due"
        found.append(
            f"request {rid} from {organisation} {late} {when}: answer it on the dashboard"
            f" (/requests/{rid})"
        )
    return found


def _camera_rows(conn: Connection, names: list[str]) -> list[CameraReport]:
    rows = conn.execute(select(Camera.id, Camera.name)).all()
    ids = {name: cid for cid, name in rows}
    reports: list[CameraReport] = []
    for name in dict.fromkeys([*names, *sorted(ids)]):
        cid = ids.get(name)
        if cid is None:
            reports.append(CameraReport(name, name in names))
            continue
        count, size, last = conn.execute(
            select(
                func.count(Segment.id),
                func.coalesce(func.sum(Segment.size_bytes), 0),
                func.max(func.coalesce(Segment.end_time, Segment.start_time)),
            ).where(Segment.camera_id == cid, Segment.state.in_(("open", "closed", "truncated")))
        ).one()
        gap = conn.execute(
            select(Gap.start_time, Gap.reason)
            .where(Gap.camera_id == cid, Gap.end_time.is_(None))
            .order_by(Gap.start_time.desc())
            .limit(1)
        ).first()
        reports.append(
            CameraReport(
                name,
                name in names,
                segments=int(count),
                footage_bytes=int(size or 0),
                last_footage=last,
                offline_since=gap.start_time if gap else None,
                offline_reason=gap.reason if gap else None,
            )
        )
    return reports
