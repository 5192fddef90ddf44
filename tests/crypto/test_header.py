"""Header grammar: canonical encodings only, and each malformed header's reason."""

from __future__ import annotations

import pytest

from nvr.crypto import HeaderFormatError, HeaderMACError
from nvr.crypto.header import (
    MAX_HEADER,
    VERSION_LINE,
    Stanza,
    b64decode,
    b64encode,
    encode_header,
    parse_header,
)

KEY = bytes(range(16))
STANZAS = [
    Stanza(b"X25519", (b64encode(bytes(32)),), bytes(range(32))),
    Stanza(b"other-grease", (b"a", b"!~"), b""),
    Stanza(b"long", (), bytes(100)),
]


def test_encode_then_parse_is_identity() -> None:
    raw = encode_header(STANZAS, KEY)
    header = parse_header(raw + b"payload\n--- more")
    assert header.stanzas == tuple(STANZAS)
    assert header.size == len(raw)
    header.verify(KEY)


@pytest.mark.parametrize(
    ("size", "columns"), [(0, [0]), (47, [63]), (48, [64, 0]), (49, [64, 2]), (96, [64, 64, 0])]
)
def test_body_lines_are_64_columns_and_the_last_is_shorter(size: int, columns: list[int]) -> None:
    body_lines = Stanza(b"t", (), bytes(size)).encode().split(b"\n")[1:-1]
    assert [len(line) for line in body_lines] == columns
    assert parse_header(encode_header([Stanza(b"t", (), bytes(size))], KEY)).stanzas[0].body == (
        bytes(size)
    )


def test_mac_covers_the_header_up_to_the_dashes() -> None:
    raw = encode_header(STANZAS, KEY)
    with pytest.raises(HeaderMACError) as caught:
        parse_header(raw).verify(bytes(16))
    assert caught.value.reason == "bad-mac"
    grown = raw.replace(b"-> long", b"-> extra\n\n-> long")
    with pytest.raises(HeaderMACError):
        parse_header(grown).verify(KEY)


GOOD = encode_header(STANZAS[:1], KEY)
MAC_LINE = GOOD[GOOD.rindex(b"---") :]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(b"age-encryption.org/v2\n" + GOOD[22:], "bad-version", id="v2"),
        pytest.param(b"\n" + GOOD, "bad-version", id="leading-newline"),
        pytest.param(GOOD[:10], "truncated", id="cut-in-version"),
        pytest.param(GOOD[:40], "truncated", id="cut-in-stanza"),
        pytest.param(GOOD[:-1], "truncated", id="no-final-newline"),
        pytest.param(VERSION_LINE + MAC_LINE, "no-stanzas", id="no-stanzas"),
        pytest.param(GOOD.replace(b"-> X25519 ", b"->X25519 "), "bad-stanza", id="no-space"),
        pytest.param(GOOD.replace(b"-> X25519 ", b"-> X25519  "), "bad-stanza", id="empty-arg"),
        pytest.param(GOOD.replace(b"-> X25519 ", b"-> X25519\t"), "bad-stanza", id="tab"),
        pytest.param(GOOD.replace(b"\n---", b"\r\n---"), "bad-base64", id="crlf"),
        pytest.param(VERSION_LINE + b"-> \n\n" + MAC_LINE, "bad-stanza", id="no-type"),
        pytest.param(GOOD.replace(b"-> X25519", b"+> X25519"), "bad-stanza", id="not-arrow"),
        pytest.param(GOOD.replace(b"\n---", b"A" * 22 + b"\n---"), "bad-body", id="65-columns"),
        pytest.param(GOOD.replace(b"\n---", b"=\n---"), "bad-base64", id="padding"),
        pytest.param(GOOD.replace(b"---", b"--"), "bad-stanza", id="two-dashes"),
        pytest.param(GOOD.replace(b"--- ", b"---"), "bad-mac-line", id="no-space-after-dashes"),
        pytest.param(GOOD.replace(b"--- ", b"--- AAAA"), "bad-mac-line", id="mac-35-bytes"),
        pytest.param(GOOD[:-3] + b"B\n", "bad-base64", id="mac-nonzero-pad-bits"),
        pytest.param(b"age-encryption.org/v1\n-> " + b"a" * MAX_HEADER, "too-long", id="huge"),
    ],
)
def test_rejects_malformed_header_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(HeaderFormatError) as caught:
        parse_header(raw[:MAX_HEADER])
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("text", "data"),
    [
        (b"", b""),
        (b"AA", b"\x00"),
        (b"AAA", b"\x00\x00"),
        (b"AAAA", b"\x00\x00\x00"),
        (b"/w", b"\xff"),
    ],
)
def test_b64_accepts_canonical_unpadded(text: bytes, data: bytes) -> None:
    assert b64decode(text, "test") == data
    assert b64encode(data) == text


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"AA==", id="padded"),
        pytest.param(b"AB", id="nonzero-trailing-bits"),
        pytest.param(b"A", id="one-char"),
        pytest.param(b"AA A", id="space"),
        pytest.param(b"AA\n", id="newline"),
        pytest.param(b"-_8", id="url-alphabet"),
    ],
)
def test_b64_rejects_non_canonical(text: bytes) -> None:
    with pytest.raises(HeaderFormatError) as caught:
        b64decode(text, "test")
    assert caught.value.reason == "bad-base64"


def test_encode_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="VCHAR"):
        Stanza(b"t", (b"two words",), b"").encode()
    with pytest.raises(ValueError, match="at least one"):
        encode_header([], KEY)
