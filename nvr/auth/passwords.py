"""Viewer and installer passwords: Argon2id hashes (the owner signs in with the passphrase).

``Passwords(params)`` hashes and verifies; parameters are explicit (``PI4``, the default,
is RFC 9106's second recommended option: m=64 MiB, t=3, p=4) and a test passes a small
``Argon2Params`` of its own, never a global switch.

- ``hash(password, context=...)``: refuses a weak password with the passphrase rules
  (zxcvbn score >= 3, at least 12 characters; ``WeakPassphrase`` says why), then hashes it
  with a fresh random salt into the PHC string ``$argon2id$v=19$m=...,t=...,p=...$salt$hash``.
- ``verify(stored, password)``: ``True`` or ``False``, never an exception for a wrong or
  malformed hash (it fails closed). libargon2 compares the digests in constant time, and an
  account without a hash (unknown name, the owner) is checked against a dummy hash made
  with the same parameters, so the time taken does not tell which names exist.
- ``needs_rehash(stored)``: the hash was made with other parameters; re-hash after the
  next successful login.

At most ``max_concurrent`` computations run at once (each needs ``memory_cost`` KiB), so a
burst of logins cannot take the recorder's memory on a 2 GB Pi. Measured figures and the Pi
estimate are in docs/design/auth.md.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from nvr.keys.passphrase import WeakPassphrase, check_strength

MAX_PASSWORD_CHARS = 1024  # longer input is refused before any hashing work


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int  # passes over memory
    memory_cost: int  # KiB
    parallelism: int  # lanes (part of the hash: changing it changes every digest)
    hash_len: int = 32
    salt_len: int = 16


# RFC 9106 section 4, second recommended option (the first needs 2 GiB per login).
# This machine (AMD EPYC, 2 vCPU): ~0.18 s per verify; a Pi 4 (Cortex-A72): ~0.7 s estimated.
PI4 = Argon2Params(time_cost=3, memory_cost=64 * 1024, parallelism=4)


class Passwords:
    def __init__(self, params: Argon2Params = PI4, *, max_concurrent: int = 2) -> None:
        self.params = params
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
            hash_len=params.hash_len,
            salt_len=params.salt_len,
            type=Type.ID,
        )
        self._slots = threading.BoundedSemaphore(max_concurrent)
        # A well-formed hash with these parameters that no password matches: verifying
        # against it costs exactly one real verification, and building it costs nothing.
        self._dummy = _phc(params, secrets.token_bytes(params.salt_len), bytes(params.hash_len))

    def hash(self, password: str, *, context: Sequence[str] = ()) -> str:
        """The PHC string for ``password``; ``WeakPassphrase`` if it is too easy to guess.
        ``context`` (the account name, the owner's name) counts against the password."""
        _check_length(password)
        check_strength(password.encode(), context)
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``. ``stored=None`` costs the same and is
        always ``False``."""
        if len(password) > MAX_PASSWORD_CHARS:
            return False
        if stored is None:
            self._burn(password)
            return False
        with self._slots:
            try:
                return self._hasher.verify(stored, password)
            except (VerificationError, InvalidHashError):
                return False

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            return True

    def _burn(self, password: str) -> None:
        with self._slots, contextlib.suppress(VerificationError):
            self._hasher.verify(self._dummy, password)


def _phc(params: Argon2Params, salt: bytes, digest: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode().rstrip("=")

    return (
        f"$argon2id$v=19$m={params.memory_cost},t={params.time_cost},p={params.parallelism}"
        f"${b64(salt)}${b64(digest)}"
    )


def _check_length(password: str) -> None:
    if len(password) > MAX_PASSWORD_CHARS:
        raise WeakPassphrase(f"the password is too long (at most {MAX_PASSWORD_CHARS} characters)")


def time_verify(params: Argon2Params, rounds: int = 3) -> float:
    """Seconds one verification with ``params`` takes on this machine (for the docs and
    for choosing parameters on new hardware)."""
    hasher = Passwords(params)
    stored = hasher._hasher.hash("calibration password")
    start = time.perf_counter()
    for _ in range(rounds):
        hasher.verify(stored, "calibration password")
    return (time.perf_counter() - start) / rounds
