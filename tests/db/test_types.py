"""``UTCDateTime``: aware UTC in, aware UTC out, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, exc, insert, select

from nvr.db.engine import make_engine
from nvr.db.types import UTCDateTime

metadata = MetaData()
stamps = Table(
    "stamps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime()),
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_any_offset_comes_back_as_the_same_instant_in_utc(engine: Engine) -> None:
    sent = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5)))
    with engine.begin() as connection:
        connection.execute(insert(stamps).values(id=1, at=sent))
        connection.execute(insert(stamps).values(id=2, at=None))
    with engine.connect() as connection:
        got = connection.execute(select(stamps.c.at).where(stamps.c.id == 1)).scalar_one()
        empty = connection.execute(select(stamps.c.at).where(stamps.c.id == 2)).scalar_one()
    assert got == sent
    assert got.tzinfo == UTC
    assert got.hour == 6
    assert empty is None


def test_comparisons_in_sql_use_utc(engine: Engine) -> None:
    noon_utc = datetime(2026, 6, 1, 12, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(insert(stamps).values(id=1, at=noon_utc))
    later_elsewhere = datetime(2026, 6, 1, 13, 30, tzinfo=timezone(timedelta(hours=2)))
    with engine.connect() as connection:
        found = connection.execute(
            select(stamps.c.id).where(stamps.c.at < later_elsewhere)
        ).scalars()
        assert list(found) == []


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    with pytest.raises(exc.StatementError, match="naive datetime"), engine.begin() as c:
        c.execute(insert(stamps).values(id=1, at=datetime(2026, 1, 1)))
