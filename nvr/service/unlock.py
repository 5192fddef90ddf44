"""Unlock sessions held by the running service (docs/design/keys.md, "Unlock sessions").

``UnlockManager.unlock(passphrase)`` unwraps the owner identities into an ``UnlockSession``
and returns an unguessable token for it (``unlock_member(name, passphrase)`` the same for a
household member's identity, for a linked viewer's sign-in); ``identities(token)`` reaches
them (refreshing the idle timer); ``lock(token)`` / ``lock_all()`` wipe them. ``sweep()``
locks sessions whose time is up (the service calls it every few seconds). Every unlock,
failed unlock and lock is an audit entry. Only a hash of each token is kept.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from nvr.audit.entry import Actor
from nvr.clock import Clock
from nvr.crypto import X25519Identity
from nvr.keys.store import KeyError_, KeyStore
from nvr.keys.unlock import DEFAULT_IDLE, DEFAULT_MAX_AGE, Locked, UnlockSession

Record = Callable[[str, dict[str, Any], Actor], object]
OWNER = Actor(role="owner", user="owner")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UnlockManager:
    def __init__(
        self,
        keys: KeyStore,
        clock: Clock,
        record: Record,
        *,
        idle_timeout: timedelta = DEFAULT_IDLE,
        max_age: timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._record = record
        self._idle = idle_timeout
        self._max_age = max_age
        self._sessions: dict[str, UnlockSession[list[X25519Identity]]] = {}
        self._lock = threading.Lock()

    @property
    def idle_timeout(self) -> timedelta:
        return self._idle

    def unlock(self, passphrase: bytes, actor: Actor = OWNER) -> str:
        """A token for a new session; ``KeyError_`` (audited) for a wrong passphrase."""
        try:
            unlocked = self._keys.unlock(passphrase)
        except KeyError_ as exc:
            self._record("unlock.failed", {"reason": exc.message}, actor)
            raise
        return self._hold(unlocked.identities, unlocked.secret, actor, {})

    def has_member(self, name: str) -> bool:
        """Whether ``name`` has a household member key (so a passphrase could open one)."""
        return self._keys.has_member(name)

    def unlock_member(self, name: str, passphrase: bytes, actor: Actor) -> str | None:
        """A household member's identity (a viewer whose sign-in password is also their
        member passphrase), held like the owner's: a token, or ``None`` when ``name`` has
        no member key or the passphrase does not open it (not audited as a failure: the
        sign-in itself succeeded; the viewer simply has no key to footage)."""
        if not self._keys.has_member(name):
            return None
        try:
            identities, secret = self._keys.unlock_member(name, passphrase)
        except KeyError_:
            return None
        return self._hold(identities, secret, actor, {"member": name})

    def _hold(
        self,
        identities: list[X25519Identity],
        secret: bytearray,
        actor: Actor,
        extra: dict[str, Any],
    ) -> str:
        token = secrets.token_urlsafe(32)
        digest = _digest(token)

        def on_lock(reason: str) -> None:
            with self._lock:
                self._sessions.pop(digest, None)
            self._record("lock", {"session": digest[:16], "reason": reason}, actor)

        session = UnlockSession(
            identities,
            secret,
            clock=self._clock,
            idle_timeout=self._idle,
            max_age=self._max_age,
            on_lock=on_lock,
        )
        with self._lock:
            self._sessions[digest] = session
        self._record("unlock", {"session": digest[:16], **extra}, actor)
        return token

    def identities(self, token: str) -> list[X25519Identity]:
        with self._lock:
            session = self._sessions.get(_digest(token))
        if session is None:
            raise Locked("locked", hint="unlock again with the passphrase")
        return session.use()

    def is_unlocked(self, token: str) -> bool:
        with self._lock:
            session = self._sessions.get(_digest(token))
        return session is not None and not session.locked

    def lock(self, token: str, reason: str = "logout") -> bool:
        with self._lock:
            session = self._sessions.get(_digest(token))
        if session is None:
            return False
        session.lock(reason)
        return True

    def lock_all(self, reason: str) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.lock(reason)

    def sweep(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.check()

    @property
    def active(self) -> int:
        return len(self._sessions)
