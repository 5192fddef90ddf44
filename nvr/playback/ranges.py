"""HTTP byte ranges (RFC 9110 section 14) for one in-memory body: a pure function.

``parse_range(header, size) -> (first, last) | None``: ``None`` means "send the whole
body" (no ``Range`` header, or several ranges, which RFC 9110 lets a server ignore);
otherwise the inclusive byte positions to send with 206. ``BadRange`` (answer 400) for a
header that is not ``bytes=first-[last]`` or ``bytes=-suffix``; ``Unsatisfiable`` (416)
when the range starts at or past the end of the body.
"""

from __future__ import annotations

import re

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class BadRange(ValueError):
    """The Range header is malformed."""


class Unsatisfiable(ValueError):
    """The range lies outside the body."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    if header is None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        raise BadRange(f"unsupported range {header!r}: use bytes=first-last")
    parts = spec.split(",")
    if len(parts) > 1:
        for part in parts:  # still reject garbage, but serve several ranges as the whole body
            if not _SPEC.match(part) or part.strip() == "-":
                raise BadRange(f"malformed range {header!r}")
        return None
    match = _SPEC.match(spec)
    if match is None or (not match[1] and not match[2]):
        raise BadRange(f"malformed range {header!r}")
    if not match[1]:
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise Unsatisfiable(f"range {header!r} selects no bytes of {size}")
        return max(0, size - suffix), size - 1
    first = int(match[1])
    last = int(match[2]) if match[2] else max(first, size - 1)
    if last < first:
        raise BadRange(f"malformed range {header!r}: last byte before first")
    if first >= size:
        raise Unsatisfiable(f"range {header!r} starts past the end ({size} bytes)")
    return first, min(last, size - 1)
