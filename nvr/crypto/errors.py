"""Why an age file or key was rejected.

Every failure is an ``AgeError`` subclass carrying a short, stable ``reason`` code next to
the human message, so callers (and test vectors) can tell *why* a file was refused: a file
rejected for the wrong reason is a bug even when rejecting it was right.
"""

from __future__ import annotations


class AgeError(Exception):
    """Base class: ``reason`` is a stable machine code, ``str(exc)`` the explanation."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


class KeyFormatError(AgeError):
    """A recipient (``age1…``) or identity (``AGE-SECRET-KEY-1…``) string is malformed."""


class HeaderFormatError(AgeError):
    """The header does not follow the age v1 grammar (strictly: canonical encodings only)."""


class HeaderMACError(AgeError):
    """The header MAC does not match: the header was modified or swapped."""


class NoIdentityMatchError(AgeError):
    """None of the identities unwraps any stanza (wrong key or wrong passphrase)."""


class WorkFactorError(AgeError):
    """An scrypt stanza asks for more work than the caller allowed (``max_log_n``)."""


class PayloadError(AgeError):
    """Base class for failures in the encrypted payload after a valid header."""


class TruncatedError(PayloadError):
    """The payload ends before its final chunk: the writer never finished the file."""


class TrailingDataError(PayloadError):
    """Bytes follow the final chunk."""


class ChunkAuthError(PayloadError):
    """A chunk failed authentication: modified, reordered, spliced, or torn mid-chunk.

    ``index`` is the chunk's position in the payload.
    """

    def __init__(self, reason: str, message: str, *, index: int) -> None:
        super().__init__(reason, message)
        self.index = index


class PayloadFormatError(PayloadError):
    """The payload authenticates but breaks a format rule (an empty final chunk)."""
