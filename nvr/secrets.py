"""Keeping credentials out of reprs, logs, errors and API responses.

``mask_url`` hides the password in a URL's userinfo (``rtsp://user:***@host/...``);
``scrub`` does that for every URL in free text and masks ``password=...``-style pairs.
``Secret`` wraps a string whose ``repr``/``str`` never show it; ``reveal()`` does.
These are pure functions: the logging filter and the config models both call them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

# scheme://user:password@host — the password part ends at the last '@' before the host.
_URL_CRED = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^\s/]*)@"
)
_KV_CRED = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key)\b\s*[=:]\s*)"
    r"(?P<q>['\"]?)(?P<val>[^\s'\",;&]+)(?P=q)",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """Return ``url`` with any password in its userinfo replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def scrub(text: str) -> str:
    """Mask credentials in free text: URL passwords and ``password=...`` pairs."""
    text = _URL_CRED.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _KV_CRED.sub(lambda m: f"{m['key']}{m['q']}{MASK}{m['q']}", text)


class Secret:
    """A string that never prints itself. Use ``reveal()`` where the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)
