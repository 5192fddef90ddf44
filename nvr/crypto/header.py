"""The age v1 header: grammar, strict parsing, and the header MAC.

Layout (every line ends in LF; nothing else is accepted)::

    age-encryption.org/v1
    -> <type> [<arg> ...]          one stanza per recipient, args are VCHAR strings
    <base64 body, 64-column lines; the last line is shorter, possibly empty>
    --- <base64 HMAC-SHA-256 of everything above, up to and including "---">

Base64 is RFC 4648 standard alphabet without padding, and only the canonical encoding
is accepted (no padding, no non-zero trailing bits), so one header has one byte form and
the MAC covers exactly what was parsed. Unknown stanza types parse fine: identities skip
them (age's CLI adds random "grease" stanzas). The header is bounded by ``MAX_HEADER``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from dataclasses import dataclass
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import HeaderFormatError, HeaderMACError

VERSION_LINE = b"age-encryption.org/v1\n"
MAX_HEADER = 64 * 1024
_COLUMNS = 64
_MAC_LEN = 32
_B64_CHARS = re.compile(rb"[A-Za-z0-9+/]*")
_ARG = re.compile(rb"[\x21-\x7e]+")


def b64encode(data: bytes) -> bytes:
    """Unpadded standard base64."""
    return base64.b64encode(data).rstrip(b"=")


def b64decode(text: bytes, what: str) -> bytes:
    """Decode canonical unpadded base64 or raise ``HeaderFormatError('bad-base64')``."""
    bad = HeaderFormatError("bad-base64", f"{what} is not canonical unpadded base64")
    if not _B64_CHARS.fullmatch(text) or len(text) % 4 == 1:
        raise bad
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise bad from None
    if b64encode(data) != text:
        raise bad
    return data


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its type, its other arguments, and its binary body."""

    type: bytes
    args: tuple[bytes, ...]
    body: bytes

    def encode(self) -> bytes:
        for arg in (self.type, *self.args):
            if not _ARG.fullmatch(arg):
                raise ValueError(f"stanza argument {arg!r} is not a non-empty VCHAR string")
        text = b64encode(self.body)
        lines = [text[i : i + _COLUMNS] for i in range(0, len(text) + 1, _COLUMNS)]
        return b" ".join((b"->", self.type, *self.args)) + b"\n" + b"\n".join(lines) + b"\n"


@dataclass(frozen=True)
class Header:
    """A parsed header. ``size`` is its length in bytes, i.e. where the payload starts."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes
    size: int

    def verify(self, file_key: bytes) -> None:
        """Raise ``HeaderMACError`` unless the MAC matches under ``file_key``."""
        if not hmac.compare_digest(header_mac(file_key, self.mac_input), self.mac):
            raise HeaderMACError(
                "bad-mac", "header MAC does not match: the header was modified or swapped"
            )


def _mac_key(file_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"header").derive(file_key)


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    return hmac.new(_mac_key(file_key), mac_input, sha256).digest()


def encode_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    if not stanzas:
        raise ValueError("an age header needs at least one recipient stanza")
    mac_input = VERSION_LINE + b"".join(s.encode() for s in stanzas) + b"---"
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)) + b"\n"


def parse_header(data: bytes) -> Header:
    """Parse the header at the start of ``data`` (which may continue with the payload)."""
    if not data.startswith(VERSION_LINE):
        if VERSION_LINE.startswith(data):
            raise HeaderFormatError("truncated", "file ends inside the header")
        raise HeaderFormatError("bad-version", "not an age v1 file (bad first line)")
    pos = len(VERSION_LINE)
    stanzas: list[Stanza] = []
    while True:
        line, pos = _line(data, pos)
        if line.startswith(b"---"):
            break
        if not line.startswith(b"-> "):
            raise HeaderFormatError("bad-stanza", "header line is neither a stanza nor the MAC")
        args = line[3:].split(b" ")
        if not all(_ARG.fullmatch(arg) for arg in args):
            raise HeaderFormatError("bad-stanza", "stanza arguments must be non-empty VCHARs")
        body_lines: list[bytes] = []
        while True:
            body_line, pos = _line(data, pos)
            if len(body_line) > _COLUMNS:
                raise HeaderFormatError("bad-body", "stanza body line is over 64 columns")
            body_lines.append(body_line)
            if len(body_line) < _COLUMNS:
                break
        body = b64decode(b"".join(body_lines), "stanza body")
        stanzas.append(Stanza(args[0], tuple(args[1:]), body))
    if not stanzas:
        raise HeaderFormatError("no-stanzas", "header has no recipient stanzas")
    if not line.startswith(b"--- "):
        raise HeaderFormatError("bad-mac-line", "MAC line must be '--- ' and the MAC")
    mac = b64decode(line[4:], "header MAC")
    if len(mac) != _MAC_LEN:
        raise HeaderFormatError("bad-mac-line", "header MAC is not 32 bytes")
    mac_end = pos - len(line) - 1 + 3
    return Header(tuple(stanzas), mac, data[:mac_end], pos)


def _line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\n", pos)
    if end < 0:
        if len(data) >= MAX_HEADER:
            raise HeaderFormatError("too-long", f"header is longer than {MAX_HEADER} bytes")
        raise HeaderFormatError("truncated", "file ends inside the header")
    return data[pos:end], end + 1
