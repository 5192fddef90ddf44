"""Camera registration and service runs, on a migrated database of each backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from nvr.clock import FakeClock
from nvr.db import migrate, repo
from nvr.db.engine import make_engine, session_factory
from nvr.db.models import Camera, ServiceRun


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def test_ensure_cameras_registers_once(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    with sessions.begin() as session:
        first = repo.ensure_cameras(session, ["porch", "garage", "porch"], clock.wall())
    assert sorted(first) == ["garage", "porch"]
    assert len(set(first.values())) == 2

    clock.advance(3600)
    with sessions.begin() as session:
        second = repo.ensure_cameras(session, ["porch", "side-gate"], clock.wall())
    assert second["porch"] == first["porch"]
    assert sorted(second) == ["porch", "side-gate"]

    with sessions.begin() as session:
        rows = {c.name: c for c in session.scalars(select(Camera))}
    assert sorted(rows) == ["garage", "porch", "side-gate"]  # garage left in place
    assert rows["porch"].created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert rows["side-gate"].created_at == datetime(2026, 1, 1, 1, tzinfo=UTC)


def test_ensure_cameras_when_another_writer_registers_the_same_camera_first(
    sessions: sessionmaker[Session],
) -> None:
    """Two event writers for a new camera at once: the loser finds the winner's row."""
    clock = FakeClock()
    raced: list[int] = []

    def other_writer_wins(session: Session, *_: object) -> None:
        if not raced:
            with sessions.begin() as other:
                raced.append(repo.ensure_cameras(other, ["porch"], clock.wall())["porch"])

    with sessions.begin() as session:
        event.listen(session, "before_flush", other_writer_wins)
        ids = repo.ensure_cameras(session, ["porch", "garage"], clock.wall())
    assert ids["porch"] == raced[0]
    with sessions() as session:
        assert sorted(session.execute(select(Camera.name)).scalars()) == ["garage", "porch"]


def test_ensure_cameras_with_nothing_to_do(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert repo.ensure_cameras(session, [], FakeClock().wall()) == {}


@pytest.mark.parametrize("name", ["", "x" * 65])
def test_ensure_cameras_rejects_names_the_schema_cannot_hold(
    sessions: sessionmaker[Session], name: str
) -> None:
    with sessions.begin() as session, pytest.raises(ValueError, match="camera name"):
        repo.ensure_cameras(session, [name], FakeClock().wall())


def test_a_run_that_never_finished_is_found_at_the_next_start(
    sessions: sessionmaker[Session],
) -> None:
    clock = FakeClock()
    with sessions.begin() as session:
        clean = repo.start_run(session, "0.1.0", clock.wall())
    clock.advance(60)
    with sessions.begin() as session:
        repo.finish_run(session, clean, clock.wall())

    clock.advance(60)
    with sessions.begin() as session:
        crashed = repo.start_run(session, "0.1.0", clock.wall())
    # Power cut: no finish_run. The Pi boots with its clock behind (no RTC).
    clock.set_wall(datetime(2025, 12, 31, tzinfo=UTC))
    with sessions.begin() as session:
        assert repo.unclean_previous_runs(session) == []  # only the crashed run is open
        now = repo.start_run(session, "0.2.0", clock.wall())

    with sessions.begin() as session:
        found = repo.unclean_previous_runs(session)
        assert found == repo.unclean_previous_runs(session, current_run_id=now)
    assert [r.id for r in found] == [crashed]
    (run,) = found
    assert run.started_at == datetime(2026, 1, 1, 0, 2, tzinfo=UTC)
    assert run.started_at.tzinfo == UTC
    assert (run.stopped_at, run.clean_shutdown, run.version) == (None, False, "0.1.0")


def test_finish_run_is_recorded_once(sessions: sessionmaker[Session]) -> None:
    clock = FakeClock()
    with sessions.begin() as session:
        run_id = repo.start_run(session, "0.1.0", clock.wall())
    clock.advance(10)
    stopped = clock.wall()
    with sessions.begin() as session:
        repo.finish_run(session, run_id, stopped)
    clock.advance(10)
    with sessions.begin() as session:
        repo.finish_run(session, run_id, clock.wall())  # a second signal during shutdown
        current = repo.start_run(session, "0.1.0", clock.wall())
        assert repo.unclean_previous_runs(session, current_run_id=current) == []
        run = session.get(ServiceRun, run_id)
        assert run is not None
        assert (run.stopped_at, run.clean_shutdown) == (stopped, True)


def test_finishing_an_unknown_run_is_a_bug(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session, pytest.raises(LookupError):
        repo.finish_run(session, 12345, FakeClock().wall())


def test_new_runs_default_to_unclean(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        run_id = repo.start_run(session, "0.1.0", FakeClock().wall())
    with sessions.begin() as session:
        run = session.get(ServiceRun, run_id)
        assert run is not None
        assert run.clean_shutdown is False
        assert run.stopped_at is None
