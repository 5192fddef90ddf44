"""Column types shared by the models.

``UTCDateTime`` is the only timestamp type in the schema. It refuses naive datetimes on the
way in, stores UTC, and always hands back an aware datetime in UTC, whichever backend is
underneath: PostgreSQL keeps ``timestamptz`` natively, SQLite has no time zone support, so
the value is stored there as a naive UTC text timestamp and re-labelled UTC when read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Backends whose timestamp-with-time-zone type keeps the instant. Any other backend gets a
# naive UTC value, which is what SQLite's DATETIME would silently reduce an aware one to.
_NATIVE_TZ_DIALECTS = frozenset({"postgresql"})


class UTCDateTime(TypeDecorator[datetime]):
    """An aware-UTC ``datetime`` column: ``DateTime(timezone=True)`` with the rules enforced."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive time is ambiguous; guessing "local" is how footage ends up an hour off.
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name in _NATIVE_TZ_DIALECTS:
            return value
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
