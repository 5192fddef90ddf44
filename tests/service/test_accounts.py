"""The service's accounts over a real box: the owner row for keys made before accounts,
and an owner whose keys cannot be opened (503, not "wrong password")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from nvr.auth import users
from nvr.auth.login import LoginRefused
from nvr.clock import FakeClock
from nvr.config import Config
from nvr.service.accounts import build_accounts, ensure_owner
from nvr.service.box import Box, open_box
from nvr.service.unlock import UnlockManager
from tests.support.accounts import FAST, PASSPHRASE


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": tmp_path / "data"})}
    )
    opened = open_box(cfg, FakeClock())
    yield opened
    opened.close()


def owners(box: Box) -> list[str]:
    with box.sessions() as session:
        return [u.name for u in users.list_users(session) if u.role.value == "owner"]


def test_keys_made_before_accounts_get_their_owner_row(box: Box) -> None:
    assert not ensure_owner(box)  # no keys: nobody to create
    box.keys.init(PASSPHRASE.encode(), log_n=15, now=box.clock.wall())  # as an older release
    assert owners(box) == []
    assert ensure_owner(box)
    assert owners(box) == ["owner"]
    assert not ensure_owner(box)
    last = box.audit.entry(box.audit.verify().entries - 1)
    assert b'"kind":"users.owner"' in last


def test_an_owner_whose_keys_cannot_be_opened_gets_503(box: Box) -> None:
    with box.sessions.begin() as session:
        users.create_owner(session, "alex", box.clock.wall())  # a row, but no keys
    clock = FakeClock()
    accounts = build_accounts(box, UnlockManager(box.keys, clock, box.record), clock, argon2=FAST)
    with pytest.raises(LoginRefused) as refused:
        accounts.sign_in.sign_in("alex", PASSPHRASE, address="192.0.2.9")
    assert refused.value.status == 503
    assert refused.value.reason.startswith("the owner keys cannot be opened")
    assert accounts.owner_exists()


def test_session_lifetimes_come_from_the_security_config(box: Box) -> None:
    security = Config.model_validate(
        {"security": {"session_idle_seconds": 120, "session_max_age_seconds": 600}}
    ).security
    clock = FakeClock()
    accounts = build_accounts(
        box,
        UnlockManager(box.keys, clock, box.record, idle_timeout=security.footage_idle_lock()),
        clock,
        argon2=FAST,
        session_idle=security.session_idle(),
        session_max_age=security.session_max_age(),
    )
    assert accounts.sessions.idle_timeout == timedelta(seconds=120)
    assert accounts.sessions.max_age == timedelta(seconds=600)
    assert accounts.unlocks.idle_timeout == timedelta(seconds=600)  # the default lock
