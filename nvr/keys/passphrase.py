"""Passphrases: reading them safely, judging their strength, and the scrypt work factor.

- ``read_passphrase_file(path)``: the whole file minus one trailing newline, as a
  ``bytearray`` the caller wipes; refused unless only its owner can read it (like the
  secrets file), so a passphrase never sits world-readable next to the box's config.
- ``check_strength(passphrase, context)``: raises ``WeakPassphrase`` with zxcvbn's reason
  when the passphrase would fall to an offline guess (score < 3) or is shorter than
  ``MIN_LENGTH``; ``context`` words (owner name, "porchlight") count against it.
- ``calibrate_log_n(target_seconds, measure)``: the scrypt work factor that takes about
  ``target_seconds`` on this machine, never below ``MIN_LOG_N`` (age's own default is 18;
  a Pi 4 manages about 16 in a second).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from nvr.errors import UserError

MIN_LENGTH = 12
MIN_SCORE = 3
MIN_LOG_N = 15
MAX_LOG_N = 22


class WeakPassphrase(UserError):
    """The passphrase is too easy to guess; the message says why."""


def wipe(buf: bytearray) -> None:
    """Overwrite a buffer holding secret bytes (as far as Python lets us)."""
    for i in range(len(buf)):
        buf[i] = 0


def read_passphrase_file(path: Path) -> bytearray:
    """Read a passphrase from a file only its owner can read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise UserError(f"cannot read passphrase file {path}: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"passphrase file {path} is not a regular file")
        if st.st_mode & 0o077:
            raise UserError(
                f"passphrase file {path} has mode {stat.S_IMODE(st.st_mode):04o}, so other "
                "users may read it",
                hint=f"chmod 600 {path}",
            )
        data = bytearray()
        while chunk := os.read(fd, 4096):
            data += chunk
    finally:
        os.close(fd)
    if data.endswith(b"\r\n"):
        del data[-2:]
    elif data.endswith(b"\n"):
        del data[-1:]
    if not data:
        raise UserError(f"passphrase file {path} is empty")
    return data


ZXCVBN_MAX = 72  # zxcvbn's own limit (its max_length default)


def check_strength(passphrase: bytes | bytearray, context: Sequence[str] = ()) -> None:
    """Refuse a passphrase an offline attacker with the disk could guess."""
    try:
        text = bytes(passphrase).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WeakPassphrase("the passphrase is not valid UTF-8 text") from exc
    if len(text) < MIN_LENGTH:
        raise WeakPassphrase(
            f"the passphrase is too short ({len(text)} characters; at least {MIN_LENGTH})",
            hint="a few unrelated words make a long passphrase that is easy to remember",
        )
    # zxcvbn's dictionaries take ~12 MB: loaded when a passphrase is set, not by every process.
    from zxcvbn import zxcvbn

    # zxcvbn refuses more than 72 characters (ValueError) and its matching grows fast with
    # length: judge the first 72, which already makes a long passphrase strong.
    result = zxcvbn(text[:ZXCVBN_MAX], user_inputs=["porchlight", "nvr", "doorbell", *context])
    if result["score"] < MIN_SCORE:
        feedback = result["feedback"]
        reason = feedback.get("warning") or "it is easy to guess"
        suggestions = " ".join(feedback.get("suggestions") or [])
        raise WeakPassphrase(
            f"the passphrase is too weak: {reason.rstrip('.')}",
            hint=suggestions or "add another word or two; uncommon words are better",
        )


def time_scrypt(log_n: int) -> float:
    """Seconds one scrypt derivation with ``2**log_n`` takes here (r=8, p=1, as age uses)."""
    kdf = Scrypt(salt=b"\0" * 16, length=32, n=2**log_n, r=8, p=1)
    start = time.perf_counter()
    kdf.derive(b"calibration")
    return time.perf_counter() - start


def calibrate_log_n(
    target_seconds: float = 1.0, measure: Callable[[int], float] = time_scrypt
) -> int:
    """The largest work factor whose derivation takes at most about ``target_seconds``.

    Measures at ``MIN_LOG_N`` and doubles (each +1 doubles the time) while the next step
    stays within 1.5x the target, so the result lands between ~0.7x and ~1.5x the target.
    """
    log_n = MIN_LOG_N
    seconds = measure(log_n)
    while log_n < MAX_LOG_N and seconds * 2 <= target_seconds * 1.5:
        log_n += 1
        seconds = measure(log_n)
    return log_n
