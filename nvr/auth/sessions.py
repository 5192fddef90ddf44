"""Dashboard sessions: server-side, in memory, with a CSRF token each.

Decision: sessions live only in this process's memory. A restart logs everyone out, which
costs nothing extra: a restart also forgets the owner's unlocked identity, so the owner
must type the passphrase again anyway, and nothing about a session ever reaches the disk
(a stolen SD card holds no session to replay).

- ``login(principal, replacing=old_token, unlock_token=...)`` makes a NEW session with a
  fresh 256-bit id (``secrets.token_urlsafe(32)``) and ends ``replacing`` if given: the id
  always changes at login, so an id planted before login (session fixation) is worthless.
  Only the SHA-256 of the id is kept as the key; the id itself lives in the cookie.
- ``get(token)`` returns the ``ActiveSession`` (refreshing its idle timer) or ``None``
  once it has ended: ``idle_timeout`` without a request, or ``max_age`` after login.
- ``alive(key)``: whether a session still lives, its idle timer untouched (event streams).
- ``csrf_ok(session, presented)``: the session's CSRF token, compared in constant time.
- ``logout(token)``, ``logout_everywhere(user_id, keep=...)``: end sessions (all of an
  account's but ``keep``) and lock their unlocks.
- The owner's session carries the ``UnlockManager`` token from the passphrase login.
  The unlock has its own, shorter idle timer: when it locks, the session goes on (pages,
  settings) but footage needs the passphrase again (``attach_unlock`` after re-entering it).
  A viewer linked to a household member key (same name, the sign-in password opens it)
  carries that key's unlock the same way; when it locks, the viewer signs in again.

Each user keeps at most ``per_user`` sessions (the oldest ends first), so logins alone
cannot grow memory without limit; ``sweep()`` drops ended sessions (call it on a timer).

Cookie: ``__Host-porchlight``, HttpOnly, Secure, SameSite=Strict, Path=/, no Domain,
Max-Age = the absolute expiry (``set_session_cookie``, ``clear_session_cookie``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from nvr.auth.policy import Role
from nvr.clock import Clock

if TYPE_CHECKING:
    from starlette.responses import Response

COOKIE_NAME = "__Host-porchlight"
CSRF_HEADER = "X-CSRF-Token"
DEFAULT_IDLE = timedelta(minutes=30)
DEFAULT_MAX_AGE = timedelta(hours=12)
DEFAULT_PER_USER = 10


class Unlocks(Protocol):
    """What sessions need of ``nvr.service.unlock.UnlockManager``."""

    def is_unlocked(self, token: str) -> bool: ...

    def lock(self, token: str, reason: str = "logout") -> bool: ...


@dataclass(frozen=True)
class Principal:
    """Who a session belongs to."""

    user_id: int
    name: str
    role: Role


@dataclass
class _Session:
    principal: Principal
    csrf_token: str
    created_at: datetime  # wall time, for display ("signed in since")
    started: float  # monotonic
    last_seen: float  # monotonic
    unlock_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ActiveSession:
    """A live session as the request handlers see it."""

    key: str  # the hash of the id: safe to log (first 16 hex digits) and to audit
    principal: Principal
    csrf_token: str
    created_at: datetime
    unlock_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Issued:
    """A new session: ``token`` goes into the cookie, ``csrf_token`` into the page."""

    token: str = field(repr=False)
    session: ActiveSession


def session_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_ok(session: ActiveSession, presented: str | None) -> bool:
    """Whether ``presented`` is this session's CSRF token (constant-time comparison)."""
    if not presented:
        return False
    return hmac.compare_digest(session.csrf_token.encode(), presented.encode())


class SessionStore:
    def __init__(
        self,
        clock: Clock,
        *,
        unlocks: Unlocks | None = None,
        idle_timeout: timedelta = DEFAULT_IDLE,
        max_age: timedelta = DEFAULT_MAX_AGE,
        per_user: int = DEFAULT_PER_USER,
        on_end: Callable[[ActiveSession, str], None] | None = None,
    ) -> None:
        self._clock = clock
        self._unlocks = unlocks
        self._idle = idle_timeout.total_seconds()
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self._per_user = per_user
        self._on_end = on_end
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def login(
        self,
        principal: Principal,
        *,
        replacing: str | None = None,
        unlock_token: str | None = None,
    ) -> Issued:
        """A new session for ``principal``; ends ``replacing`` (the cookie the login came
        with, if any). ``unlock_token``: the owner's, or a viewer's household key."""
        if unlock_token is not None and principal.role is Role.INSTALLER:
            raise ValueError("an installer's session holds no unlock")
        if replacing:
            self.logout(replacing, reason="replaced")
        token = secrets.token_urlsafe(32)
        key = session_key(token)
        now = self._clock.monotonic()
        state = _Session(
            principal=principal,
            csrf_token=secrets.token_urlsafe(32),
            created_at=self._clock.wall(),
            started=now,
            last_seen=now,
            unlock_token=unlock_token,
        )
        with self._lock:
            self._sessions[key] = state
            mine = [
                k for k, s in self._sessions.items() if s.principal.user_id == principal.user_id
            ]
            excess = mine[: max(0, len(mine) - self._per_user)]  # oldest first (dict order)
        for old in excess:
            self._end(old, "too many sessions")
        return Issued(token=token, session=_view(key, state))

    def get(self, token: str | None) -> ActiveSession | None:
        """The live session for a cookie value, its idle timer refreshed; ``None`` if there
        is none or it has ended."""
        if not token or len(token) > 128:
            return None
        key = session_key(token)
        now = self._clock.monotonic()
        with self._lock:
            state = self._sessions.get(key)
            if state is None:
                return None
            reason = self._expiry(state, now)
            if reason is None:
                state.last_seen = now
                return _view(key, state)
        self._end(key, reason)
        return None

    def alive(self, key: str) -> bool:
        """Whether the session with this key (``ActiveSession.key``) is still live, WITHOUT
        refreshing its idle timer: for long-lived responses (the event stream), which must
        end with the session and must not keep an idle one alive. Pure look-up: a session
        found expired is left for ``sweep`` (or the next request) to end and audit, so this
        is safe to call on the event loop."""
        now = self._clock.monotonic()
        with self._lock:
            state = self._sessions.get(key)
            return state is not None and self._expiry(state, now) is None

    def attach_unlock(self, token: str, unlock_token: str) -> bool:
        """Link a fresh unlock (the owner typed the passphrase again, or a household viewer
        their password) to a live session; never to an installer's."""
        active = self.get(token)
        if active is None or active.principal.role is Role.INSTALLER:
            return False
        with self._lock:
            state = self._sessions.get(active.key)
            if state is None:
                return False
            old, state.unlock_token = state.unlock_token, unlock_token
        if old is not None and old != unlock_token and self._unlocks is not None:
            self._unlocks.lock(old, "replaced")
        return True

    def is_unlocked(self, session: ActiveSession) -> bool:
        """Whether footage can be decrypted in this session without the passphrase."""
        return (
            session.unlock_token is not None
            and self._unlocks is not None
            and self._unlocks.is_unlocked(session.unlock_token)
        )

    def logout(self, token: str, *, reason: str = "logout") -> bool:
        return self._end(session_key(token), reason)

    def logout_everywhere(
        self, user_id: int, *, reason: str = "logout everywhere", keep: str | None = None
    ) -> int:
        """End every session of ``user_id`` but the one whose key is ``keep``; how many."""
        with self._lock:
            keys = [
                k for k, s in self._sessions.items() if s.principal.user_id == user_id and k != keep
            ]
        return sum(self._end(key, reason) for key in keys)

    def sweep(self) -> int:
        """End every session whose time is up; how many ended."""
        now = self._clock.monotonic()
        with self._lock:
            due = [(k, r) for k, s in self._sessions.items() if (r := self._expiry(s, now))]
        return sum(self._end(key, reason) for key, reason in due)

    def count(self, user_id: int) -> int:
        """How many sessions ``user_id`` has (ended ones not yet swept included)."""
        with self._lock:
            return sum(1 for s in self._sessions.values() if s.principal.user_id == user_id)

    @property
    def active(self) -> int:
        return len(self._sessions)

    def _expiry(self, state: _Session, now: float) -> str | None:
        if now - state.started >= self.max_age.total_seconds():
            return "expired"
        if now - state.last_seen >= self._idle:
            return "idle"
        return None

    def _end(self, key: str, reason: str) -> bool:
        with self._lock:
            state = self._sessions.pop(key, None)
        if state is None:
            return False
        if state.unlock_token is not None and self._unlocks is not None:
            self._unlocks.lock(state.unlock_token, reason)
        if self._on_end is not None:
            self._on_end(_view(key, state), reason)
        return True


def _view(key: str, state: _Session) -> ActiveSession:
    return ActiveSession(
        key=key,
        principal=state.principal,
        csrf_token=state.csrf_token,
        created_at=state.created_at,
        unlock_token=state.unlock_token,
    )


def set_session_cookie(response: Response, token: str, max_age: timedelta) -> None:
    """Put the session id in the cookie. ``__Host-`` makes the browser insist on Secure,
    Path=/ and no Domain, so neither a sibling host nor plain HTTP can set or read it;
    SameSite=Strict keeps it off every cross-site request; HttpOnly keeps it from scripts."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(max_age.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response) -> None:
    """Tell the browser to drop the session cookie (same attributes, or it is ignored)."""
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")
