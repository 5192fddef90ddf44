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

from sqlalchemy import MetaData, String, false
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
