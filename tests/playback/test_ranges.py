"""parse_range: RFC 9110 byte ranges for one body, as a pure function."""

from __future__ import annotations

import pytest

from nvr.playback import BadRange, Unsatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=0-99", (0, 99)),
        ("bytes=10-", (10, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=-1", (999, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("Bytes = 5 - 6", (5, 6)),
        ("bytes=0-1, 4-5", None),  # several ranges: send the whole body
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-1001", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)


@pytest.mark.parametrize(
    "header", ["bytes=5-4", "bytes=-", "bytes=", "bytes=a-b", "lines=0-1", "0-1", "bytes=1-2,x"]
)
def test_malformed(header: str) -> None:
    with pytest.raises(BadRange):
        parse_range(header, 1000)
