"""Sessions: fresh ids at login, hashed keys, CSRF, idle and absolute expiry, logout
everywhere, the owner's unlock locked with the session, and the cookie's attributes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response

from nvr.audit.entry import Actor
from nvr.auth.policy import Role
from nvr.auth.sessions import (
    COOKIE_NAME,
    ActiveSession,
    Principal,
    SessionStore,
    clear_session_cookie,
    csrf_ok,
    session_key,
    set_session_cookie,
)
from nvr.clock import FakeClock
from nvr.keys.store import KeyStore
from nvr.service.unlock import UnlockManager

OWNER = Principal(1, "alex", Role.OWNER)
VIEWER = Principal(2, "sam", Role.VIEWER)
PASS = b"sunny-Meadow-42-quietly"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def unlocks(tmp_path: Path, clock: FakeClock) -> UnlockManager:
    keys = KeyStore(tmp_path)
    keys.init(PASS, log_n=15, now=datetime(2026, 1, 1, tzinfo=UTC))

    def record(kind: str, payload: dict[str, Any], actor: Actor) -> None:
        pass

    return UnlockManager(keys, clock, record, idle_timeout=timedelta(minutes=10))


def store(clock: FakeClock, **kwargs: Any) -> tuple[SessionStore, list[tuple[str, str]]]:
    ended: list[tuple[str, str]] = []

    def on_end(session: ActiveSession, reason: str) -> None:
        ended.append((session.principal.name, reason))

    return SessionStore(clock, on_end=on_end, **kwargs), ended


def test_ids_are_256_bit_random_and_only_their_hash_is_kept(clock: FakeClock) -> None:
    sessions, _ = store(clock)
    issued = sessions.login(VIEWER)
    assert len(issued.token) == 43  # 32 bytes, URL-safe base64 without padding
    assert issued.session.key == session_key(issued.token)
    assert issued.token not in repr(issued)
    assert issued.token not in repr(sessions.__dict__)
    assert len(issued.session.csrf_token) == 43
    assert issued.session.csrf_token != issued.token
    assert sessions.login(VIEWER).token != issued.token
    got = sessions.get(issued.token)
    assert got is not None
    assert got.principal == VIEWER


def test_unknown_empty_and_oversized_tokens(clock: FakeClock) -> None:
    sessions, _ = store(clock)
    sessions.login(VIEWER)
    assert sessions.get(None) is None
    assert sessions.get("") is None
    assert sessions.get("x" * 43) is None
    assert sessions.get("x" * 10_000) is None


def test_login_rotates_the_id_so_a_planted_one_is_worthless(clock: FakeClock) -> None:
    sessions, ended = store(clock)
    planted = sessions.login(VIEWER)  # e.g. an attacker's own session id set in a browser
    fresh = sessions.login(OWNER, replacing=planted.token)
    assert fresh.token != planted.token
    assert sessions.get(planted.token) is None
    assert sessions.get(fresh.token) is not None
    assert ended == [("sam", "replaced")]


def test_csrf_token_is_compared_exactly(clock: FakeClock) -> None:
    sessions, _ = store(clock)
    session = sessions.login(VIEWER).session
    other = sessions.login(VIEWER).session
    assert csrf_ok(session, session.csrf_token)
    assert not csrf_ok(session, None)
    assert not csrf_ok(session, "")
    assert not csrf_ok(session, other.csrf_token)
    assert not csrf_ok(session, session.csrf_token[:-1])
    assert not csrf_ok(session, session.csrf_token + "A")


def test_idle_timeout_refreshed_by_use(clock: FakeClock) -> None:
    sessions, ended = store(clock, idle_timeout=timedelta(minutes=30))
    token = sessions.login(VIEWER).token
    for _ in range(5):
        clock.advance(29 * 60)
        assert sessions.get(token) is not None
    clock.advance(30 * 60)
    assert sessions.get(token) is None
    assert ended == [("sam", "idle")]


def test_absolute_expiry_despite_use(clock: FakeClock) -> None:
    sessions, ended = store(clock, max_age=timedelta(hours=12))
    token = sessions.login(VIEWER).token
    for _ in range(24):  # 11 h 36 min, used every 29 min
        clock.advance(29 * 60)
        assert sessions.get(token) is not None
    clock.advance(24 * 60)  # 12 h after login
    assert sessions.get(token) is None
    assert ended == [("sam", "expired")]


def test_sweep_ends_sessions_nobody_asks_about(clock: FakeClock) -> None:
    sessions, ended = store(clock)
    sessions.login(VIEWER)
    sessions.login(OWNER)
    clock.advance(10 * 60)
    keep = sessions.login(VIEWER).token
    clock.advance(25 * 60)
    assert sessions.sweep() == 2
    assert sessions.active == 1
    assert sessions.get(keep) is not None
    assert sorted(ended) == [("alex", "idle"), ("sam", "idle")]


def test_logout_and_logout_everywhere(clock: FakeClock) -> None:
    sessions, _ = store(clock)
    a, b = sessions.login(VIEWER), sessions.login(VIEWER)
    owner = sessions.login(OWNER)
    assert sessions.logout(a.token)
    assert not sessions.logout(a.token)
    assert sessions.get(a.token) is None
    c = sessions.login(VIEWER)
    assert sessions.logout_everywhere(VIEWER.user_id) == 2
    assert sessions.get(b.token) is None
    assert sessions.get(c.token) is None
    assert sessions.get(owner.token) is not None


def test_sessions_per_user_are_capped_oldest_first(clock: FakeClock) -> None:
    sessions, ended = store(clock, per_user=3)
    tokens = [sessions.login(VIEWER).token for _ in range(5)]
    assert sessions.active == 3
    assert [sessions.get(t) is not None for t in tokens] == [False, False, True, True, True]
    assert ended == [("sam", "too many sessions")] * 2


def test_owner_session_carries_the_unlock_and_logout_locks_it(
    clock: FakeClock, unlocks: UnlockManager
) -> None:
    sessions, _ = store(clock, unlocks=unlocks)
    unlock_token = unlocks.unlock(PASS)
    issued = sessions.login(OWNER, unlock_token=unlock_token)
    assert sessions.is_unlocked(issued.session)
    assert sessions.logout(issued.token)
    assert not unlocks.is_unlocked(unlock_token)


def test_idle_lock_keeps_the_session_but_footage_needs_the_passphrase(
    clock: FakeClock, unlocks: UnlockManager
) -> None:
    sessions, _ = store(clock, unlocks=unlocks, idle_timeout=timedelta(minutes=30))
    issued = sessions.login(OWNER, unlock_token=unlocks.unlock(PASS))
    clock.advance(11 * 60)  # unlock idles out after 10 min, the session after 30
    unlocks.sweep()
    session = sessions.get(issued.token)
    assert session is not None
    assert not sessions.is_unlocked(session)
    again = unlocks.unlock(PASS)
    assert sessions.attach_unlock(issued.token, again)
    session = sessions.get(issued.token)
    assert session is not None
    assert sessions.is_unlocked(session)


def test_replacing_an_unlock_locks_the_old_one(clock: FakeClock, unlocks: UnlockManager) -> None:
    sessions, _ = store(clock, unlocks=unlocks)
    first = unlocks.unlock(PASS)
    issued = sessions.login(OWNER, unlock_token=first)
    assert sessions.attach_unlock(issued.token, unlocks.unlock(PASS))
    assert not unlocks.is_unlocked(first)


def test_logout_everywhere_locks_every_owner_unlock(
    clock: FakeClock, unlocks: UnlockManager
) -> None:
    sessions, _ = store(clock, unlocks=unlocks)
    tokens = [unlocks.unlock(PASS) for _ in range(2)]
    for token in tokens:
        sessions.login(OWNER, unlock_token=token)
    assert sessions.logout_everywhere(OWNER.user_id) == 2
    assert unlocks.active == 0


def test_an_installer_holds_no_unlock_and_never_attaches_one(clock: FakeClock) -> None:
    sessions, _ = store(clock)
    with pytest.raises(ValueError, match="installer"):
        sessions.login(Principal(3, "ines", Role.INSTALLER), unlock_token="x")
    installer = sessions.login(Principal(3, "ines", Role.INSTALLER))
    assert not sessions.attach_unlock(installer.token, "x")
    # A household viewer unlocks again after the idle lock (SignIn.reunlock checks the
    # key; the store only links the new unlock to the session).
    viewer = sessions.login(VIEWER)
    assert sessions.attach_unlock(viewer.token, "x")


def test_cookie_attributes() -> None:
    response = Response()
    set_session_cookie(response, "tok", timedelta(hours=12))
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE_NAME}=tok;")
    parts = {p.strip().split("=")[0].lower(): p.strip() for p in header.split(";")}
    assert parts["httponly"] == "HttpOnly"
    assert parts["secure"] == "Secure"
    assert parts["samesite"].lower() == "samesite=strict"
    assert parts["path"] == "Path=/"
    assert parts["max-age"] == "Max-Age=43200"
    assert "domain" not in parts
    cleared = Response()
    clear_session_cookie(cleared)
    gone = cleared.headers["set-cookie"]
    assert gone.startswith(f'{COOKIE_NAME}="";')
    assert "Max-Age=0" in gone
    assert "Secure" in gone
