"""The ORM schema: the tables the code uses, as typed SQLAlchemy 2 mappings.

This is the *target* schema. The database gets there only through the migrations in
``nvr/db/migrations/versions``; the migration tests prove that upgrading an empty database
to head yields exactly this metadata on SQLite and on PostgreSQL.

Every constraint and index is named by ``NAMING_CONVENTION`` so its name is the same on
every backend, which is what lets a later migration drop or alter it (SQLite batch mode
rebuilds tables and needs the names).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nvr.db.types import UTCDateTime

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CAMERA_NAME_MAX = 64
VERSION_MAX = 64


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Camera(Base):
    """A camera named in the config. Rows are never deleted automatically: footage refers
    to them by id, and a camera removed from the config may still have footage on disk."""

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(CAMERA_NAME_MAX), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ServiceRun(Base):
    """One start of the service. ``stopped_at`` stays NULL until a clean shutdown writes
    it, so an open row that is not the current run means the process died (power cut,
    OOM kill, crash) and start-up recovery has work to do."""

    __tablename__ = "service_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[str] = mapped_column(String(VERSION_MAX))
    clean_shutdown: Mapped[bool] = mapped_column(default=False, server_default=false())


class AuditEntry(Base):
    """One audit log entry, a Merkle leaf (nvr/audit, docs/design/audit-log.md). ``seq`` is
    the leaf index, from 0 with no gaps; ``entry_json`` is the canonical JSON, the exact text
    whose UTF-8 bytes are hashed; ``time`` and ``kind`` repeat it for queries and
    ``leaf_hash`` (hex) caches its hash; ``nvr audit verify`` checks all three against it."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(64))
    entry_json: Mapped[str] = mapped_column(String())
    leaf_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed tree head of the audit log (a C2SP checkpoint note). At most one per tree
    size; ``tree_size`` and ``root_hash`` (hex) repeat the signed ``note_text``."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(unique=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    note_text: Mapped[str] = mapped_column(String())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


SEGMENT_STATES = ("open", "closed", "truncated", "missing", "corrupt", "quarantined")


class Segment(Base):
    """One encrypted footage file. Plaintext columns are only what recording and retention
    need without a key (docs/threat-model.md lists what they reveal)."""

    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("camera_id", "seq"),
        Index("ix_segments_camera_id_start_time", "camera_id", "start_time"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    seq: Mapped[int]
    path: Mapped[str] = mapped_column(String(255), unique=True)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)


class Hold(Base):
    """A legal hold: footage of one camera (or all, ``camera_id`` NULL) in a time range is
    exempt from retention until ``released_at`` is set. Never deleted."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The request this hold serves, if any (nvr/sharing/requests.py).
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"))


class Event(Base):
    """One sealed event record (nvr/storage/sealed.py). The plaintext row knows the camera
    and the UTC hour the event started in, and nothing else: type, exact times, scores,
    boxes, zones and even whether a thumbnail exists are inside the sealed file at
    ``sealed_path``. ``id`` is allocated in insertion order, which the threat model admits."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_camera_id_hour_bucket", "camera_id", "hour_bucket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    hour_bucket: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sealed_path: Mapped[str] = mapped_column(String(255), unique=True)


class Gap(Base):
    """One outage of a camera's recording (nvr/record, docs/design/recording.md): from the
    last packet before it to the first packet after it. ``end_time`` is NULL while the
    outage lasts. ``reason``: ``reconnect``, ``no_packets`` or ``disk_full``."""

    __tablename__ = "gaps"
    __table_args__ = (Index("ix_gaps_camera_id_start_time", "camera_id", "start_time"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(64))


USER_NAME_MAX = 64
ROLES = ("owner", "viewer", "installer")


class User(Base):
    """A dashboard account (nvr/auth, docs/design/auth.md). ``name`` is the login name,
    already normalized (lower case). The owner signs in with the key passphrase, so their
    ``password_hash`` is NULL; viewers and installers have an Argon2id PHC string. At most
    one owner: a unique index over ``role`` limited to the owner's row. ``disabled`` pauses
    an account; the owner may delete a viewer or installer (audit entries keep the name
    and the time, which tell a later account of the same name apart)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'viewer', 'installer')", name="role"),
        Index(
            "ix_users_one_owner",
            "role",
            unique=True,
            sqlite_where=text("role = 'owner'"),
            postgresql_where=text("role = 'owner'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(USER_NAME_MAX), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    disabled: Mapped[bool] = mapped_column(default=False, server_default=false())


class ViewerCamera(Base):
    """A camera the owner allows a viewer to watch (live, playback, events)."""

    __tablename__ = "viewer_cameras"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"), primary_key=True)


class InstallWindow(Base):
    """A time-limited window in which the installer may see footage, opened by the owner.
    ``closed_at`` is set when the owner closes it early; rows are never deleted."""

    __tablename__ = "install_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    opened_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


LEGAL_BASES = (
    "voluntary",
    "preservation",
    "subpoena",
    "court_order",
    "search_warrant",
    "emergency_claim",
)
REQUEST_STATES = (
    "received",
    "under_review",
    "fulfilled",
    "partially_fulfilled",
    "declined",
    "expired",
    "withdrawn",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class DataRequest(Base):
    """A request for footage (police or anyone), typed in by the owner
    (nvr/sharing/requests.py, docs/design/requests.md). Never deleted: every change is a
    ``RequestChange`` row and an audit entry; this row holds the current values."""

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(_one_of("basis", LEGAL_BASES), name="basis"),
        CheckConstraint(_one_of("state", REQUEST_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    person: Mapped[str] = mapped_column(String(200))
    badge: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str] = mapped_column(String(300))
    reference: Mapped[str] = mapped_column(String(200))
    basis: Mapped[str] = mapped_column(String(24))
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cameras: Mapped[str] = mapped_column(String(2000))  # a JSON list of camera names
    reason: Mapped[str] = mapped_column(String(2000))
    notes: Mapped[str] = mapped_column(String(10000))
    state: Mapped[str] = mapped_column(String(24), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RequestChange(Base):
    """One change to a request: ``kind`` create, update, state or paperwork; ``changes``
    is the JSON the audit entry ``audit_seq`` carries (the full change, so history can be
    rebuilt from either)."""

    __tablename__ = "request_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_role: Mapped[str] = mapped_column(String(16))
    actor_user: Mapped[str | None] = mapped_column(String(USER_NAME_MAX))
    kind: Mapped[str] = mapped_column(String(16))
    changes: Mapped[str] = mapped_column(String())
    audit_seq: Mapped[int] = mapped_column(BigInteger())


class RequestPaper(Base):
    """Paperwork for a request, sealed to the owner's keys: the body in the file ``path``
    (under the data folder), its name, type and hash in ``meta_sealed`` (an age file)."""

    __tablename__ = "request_papers"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), index=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)
    size: Mapped[int] = mapped_column(BigInteger())
    meta_sealed: Mapped[bytes] = mapped_column(LargeBinary())
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Consent(Base):
    """The owner's signed consent to release one clip to one recipient
    (nvr/sharing/consent.py, docs/design/consent-and-export.md). ``record`` is the exact
    canonical JSON the owner signed and ``signature`` its Ed25519 signature; the other
    columns repeat the record for queries. Never deleted: revocation sets ``revoked_at``
    (once), and the database refuses DELETE."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id"), index=True)
    camera: Mapped[str] = mapped_column(String(CAMERA_NAME_MAX))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    recipient: Mapped[str] = mapped_column(String(200))
    record: Mapped[str] = mapped_column(String())
    signature: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(2000))


class ShareLink(Base):
    """A share link to one export bundle (nvr/sharing/links.py, docs/design/share-links.md).
    Only the SHA-256 of its token is stored; the bundle sits under the data folder in
    ``shares/<id>.age``, encrypted to a key derived from the token (the box at rest cannot
    read it). ``camera``/``start``/``end`` are the consented clip the link releases (asked
    again of the enforcement point at every download). ``consent_id`` is deliberately not
    a foreign key: the enforcement point, not the schema, decides whether the consent
    allows the release. Never deleted: revocation, expiry and use are states;
    ``purged_at`` says when the stored bundle was removed."""

    __tablename__ = "share_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    consent_id: Mapped[str] = mapped_column(String(36), index=True)
    request_id: Mapped[int | None] = mapped_column()
    camera: Mapped[str] = mapped_column(String(CAMERA_NAME_MAX))
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    bundle: Mapped[str | None] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger())
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(USER_NAME_MAX))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    max_downloads: Mapped[int] = mapped_column()
    downloads: Mapped[int] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(2000))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
