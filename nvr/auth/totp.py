"""The owner's optional second factor: time-based one-time codes (RFC 6238, pyotp).

``OwnerTotp(path, clock)`` keeps the shared secret in ONE file, ``path`` (the service uses
``<data_dir>/keys/owner.totp.age``), sealed with age to the owner's X25519 recipient: the
secret is never on the disk in clear, and only the owner's unlocked identity opens it.
The owner's sign-in unlocks that identity anyway (passphrase = unlock), so the code is
checked right after the passphrase, with the identities the unlock just produced.

- ``enabled()``: the sealed file exists.
- ``begin(account)``: a fresh 160-bit secret and its ``otpauth://`` URI, pending in memory
  (one at a time, 10 minutes) until ``confirm``; enrolling again replaces it.
- ``confirm(code, recipient)``: the pending secret's current code activates it: sealed to
  ``recipient`` and written atomically (0600). ``False`` for a wrong code or none pending.
- ``verify(identities, code)``: the code matches now, the step before or the step after
  (30 s steps: a phone clock a little off still works), and that step was not used
  before: a code seen once (a shoulder-surfed or replayed one) is refused for the rest of
  its validity. ``False`` on any failure, never an exception.
- ``disable()``: removes the file (the caller checked passphrase and code first).

The last used step is kept in memory only: after a restart a code could be used a second
time within its 90 s of validity, together with the passphrase (docs/design/auth.md).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyotp

from nvr.clock import Clock
from nvr.crypto import AgeError, X25519Identity, X25519Recipient
from nvr.keys.files import seal, unseal, write_private

ISSUER = "Porchlight"
PENDING_FOR = timedelta(minutes=10)
VALID_STEPS = (0, -1, 1)  # now, the step before, the step after
CODE_DIGITS = 6


@dataclass(frozen=True)
class Enrolment:
    secret: str = field(repr=False)  # base32, what authenticator apps accept typed in
    uri: str = field(repr=False)  # otpauth://totp/Porchlight:<account>?secret=...


@dataclass
class _Pending:
    secret: str
    until: datetime


def well_formed(code: str | None) -> bool:
    return code is not None and len(code) == CODE_DIGITS and code.isascii() and code.isdigit()


class OwnerTotp:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self._clock = clock
        self._pending: _Pending | None = None
        self._last_step = -1
        self._lock = threading.Lock()

    def enabled(self) -> bool:
        return self.path.exists()

    def begin(self, account: str) -> Enrolment:
        secret = pyotp.random_base32(32)  # 32 base32 characters: 160 bits
        uri = pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)
        with self._lock:
            self._pending = _Pending(secret, self._clock.wall() + PENDING_FOR)
        return Enrolment(secret, uri)

    def confirm(self, code: str, recipient: X25519Recipient) -> bool:
        with self._lock:
            pending = self._pending
            if pending is None or self._clock.wall() >= pending.until:
                self._pending = None
                return False
            step = self._match(pending.secret, code)
            if step is None:
                return False
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private(self.path, seal(pending.secret.encode(), [recipient]))
            self._pending = None
            self._last_step = step
        return True

    def verify(self, identities: Sequence[X25519Identity], code: str | None) -> bool:
        if not well_formed(code) or code is None:
            return False
        try:
            secret = unseal(self.path.read_bytes(), identities).decode()
        except (OSError, AgeError, UnicodeDecodeError):
            return False
        with self._lock:
            step = self._match(secret, code)
            if step is None or step <= self._last_step:
                return False
            self._last_step = step
        return True

    def disable(self) -> bool:
        with self._lock:
            self._pending = None
            try:
                self.path.unlink()
            except FileNotFoundError:
                return False
        return True

    def _match(self, secret: str, code: str) -> int | None:
        """The time step ``code`` belongs to (within ``VALID_STEPS`` of now), or ``None``."""
        if not well_formed(code):
            return None
        totp = pyotp.TOTP(secret)
        now = totp.timecode(self._clock.wall())
        for offset in VALID_STEPS:
            if hmac.compare_digest(totp.generate_otp(now + offset), code):
                return now + offset
        return None
