"""The service's unlock sessions: tokens, idle expiry, wrong passphrases, all audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nvr.audit.entry import Actor
from nvr.clock import FakeClock
from nvr.keys.files import seal, unseal
from nvr.keys.store import KeyError_, KeyStore
from nvr.keys.unlock import Locked
from nvr.service.unlock import UnlockManager

PASS = b"sunny-Meadow-42-quietly"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[UnlockManager, KeyStore, FakeClock, list[str]]:
    keys = KeyStore(tmp_path)
    keys.init(PASS, log_n=15, now=datetime(2026, 1, 1, tzinfo=UTC))
    clock = FakeClock()
    events: list[str] = []

    def record(kind: str, payload: dict[str, Any], actor: Actor) -> None:
        events.append(kind)

    manager = UnlockManager(keys, clock, record, idle_timeout=timedelta(minutes=10))
    return manager, keys, clock, events


def test_unlock_use_and_idle_lock(
    setup: tuple[UnlockManager, KeyStore, FakeClock, list[str]],
) -> None:
    manager, keys, clock, events = setup
    token = manager.unlock(PASS)
    blob = seal(b"clip", keys.recipients())
    assert unseal(blob, manager.identities(token)) == b"clip"
    clock.advance(9 * 60)
    manager.sweep()
    assert manager.is_unlocked(token)
    clock.advance(10 * 60)
    manager.sweep()
    assert not manager.is_unlocked(token)
    with pytest.raises(Locked):
        manager.identities(token)
    assert events == ["unlock", "lock"]
    assert manager.active == 0


def test_wrong_passphrase_is_audited(
    setup: tuple[UnlockManager, KeyStore, FakeClock, list[str]],
) -> None:
    manager, _, _, events = setup
    with pytest.raises(KeyError_, match="wrong passphrase"):
        manager.unlock(b"not the right passphrase")
    assert events == ["unlock.failed"]


def test_tokens_are_independent_and_lock_all(
    setup: tuple[UnlockManager, KeyStore, FakeClock, list[str]],
) -> None:
    manager, _, _, events = setup
    a, b = manager.unlock(PASS), manager.unlock(PASS)
    assert a != b
    assert manager.lock(a)
    assert not manager.lock(a)
    assert manager.is_unlocked(b)
    assert not manager.is_unlocked("forged-token")
    manager.lock_all("shutdown")
    assert not manager.is_unlocked(b)
    assert events == ["unlock", "unlock", "lock", "lock"]
