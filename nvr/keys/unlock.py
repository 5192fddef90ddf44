"""Unlock sessions: the owner's identity in memory for a limited time.

An ``UnlockSession`` holds what the passphrase unwrapped (the identity object and the raw
secret bytes it was made from) until it locks: after ``idle_timeout`` without use, after
``max_age`` whatever happens, or on ``lock()`` (logout, shutdown). Locking overwrites the
secret buffer and drops the identity object, then calls ``on_lock(reason)`` once, so the
caller can write the audit entry. Time comes from the given ``Clock``'s monotonic time, so
a wall-clock jump neither extends nor cuts a session.

``use()`` is the only way to reach the identity; it refreshes the idle timer and raises
``Locked`` once the session is over. Python cannot promise that no copy of a secret
survives in memory (``cryptography`` keeps its own copy inside the key object, freed with
it); the promise is that our buffers are wiped and nothing decrypted ever reaches disk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, TypeVar

from nvr.clock import Clock
from nvr.errors import UserError
from nvr.keys.passphrase import wipe

T = TypeVar("T")

DEFAULT_IDLE = timedelta(minutes=10)
DEFAULT_MAX_AGE = timedelta(hours=12)


class Locked(UserError):
    """The session is locked: footage needs the passphrase again."""


class UnlockSession(Generic[T]):
    def __init__(
        self,
        key: T,
        secret: bytearray,
        *,
        clock: Clock,
        idle_timeout: timedelta = DEFAULT_IDLE,
        max_age: timedelta = DEFAULT_MAX_AGE,
        on_lock: Callable[[str], None] | None = None,
    ) -> None:
        self._key: T | None = key
        self._secret = secret
        self._clock = clock
        self._idle = idle_timeout.total_seconds()
        self._max_age = max_age.total_seconds()
        self._on_lock = on_lock
        self._started = self._last_use = clock.monotonic()
        self._lock = threading.Lock()
        self.lock_reason: str | None = None

    def expiry_reason(self) -> str | None:
        """Why the session should lock now (``"idle"``, ``"expired"``), or ``None``."""
        now = self._clock.monotonic()
        if now - self._started >= self._max_age:
            return "expired"
        if now - self._last_use >= self._idle:
            return "idle"
        return None

    @property
    def locked(self) -> bool:
        self.check()
        return self._key is None

    def check(self) -> None:
        """Lock the session if its time is up (call from a timer as well as on use)."""
        reason = self.expiry_reason()
        if reason is not None:
            self.lock(reason)

    def use(self) -> T:
        """The unlocked key; refreshes the idle timer. Raises ``Locked`` when locked."""
        self.check()
        with self._lock:
            if self._key is None:
                raise Locked(
                    f"locked ({self.lock_reason})", hint="unlock again with the passphrase"
                )
            self._last_use = self._clock.monotonic()
            return self._key

    def lock(self, reason: str = "logout") -> None:
        """Wipe the secret and forget the key. Idempotent; ``on_lock`` runs once."""
        with self._lock:
            if self._key is None:
                return
            wipe(self._secret)
            self._key = None
            self.lock_reason = reason
        if self._on_lock is not None:
            self._on_lock(reason)
