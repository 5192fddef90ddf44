"""Storage fixtures: a migrated SQLite index, an owner identity and a store in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from nvr.clock import FakeClock
from nvr.crypto import X25519Identity
from nvr.db import default_sqlite_url, make_engine, session_factory, upgrade
from nvr.storage.segments import SegmentStore


@dataclass
class StoreKit:
    data_dir: Path
    url: str
    sessions: sessionmaker[Session]
    identity: X25519Identity
    clock: FakeClock
    store: SegmentStore
    audit: list[tuple[str, dict[str, object]]]


def make_store(
    data_dir: Path,
    identity: X25519Identity,
    clock: FakeClock,
    audit: list[tuple[str, dict[str, object]]] | None = None,
) -> tuple[SegmentStore, str, sessionmaker[Session]]:
    url = default_sqlite_url(data_dir)
    upgrade(url)
    sessions = session_factory(make_engine(url))
    events = audit if audit is not None else []
    store = SegmentStore(
        data_dir,
        sessions,
        lambda: [identity.recipient()],
        clock,
        audit=lambda kind, payload: events.append((kind, payload)),
    )
    return store, url, sessions


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[StoreKit]:
    identity = X25519Identity.generate()
    clock = FakeClock()
    audit: list[tuple[str, dict[str, object]]] = []
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    store, url, sessions = make_store(data_dir, identity, clock, audit)
    yield StoreKit(data_dir, url, sessions, identity, clock, store, audit)
    bind = sessions.kw["bind"]
    bind.dispose()
