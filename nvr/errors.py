"""Errors a user can cause and fix.

A ``UserError`` is printed by the CLI as one line (plus an optional hint) and exits 1,
never as a traceback. Anything else escaping a command is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix: bad config, missing file, wrong passphrase ..."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message
