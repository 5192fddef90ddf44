"""Bech32 (BIP 173, the original checksum, not bech32m) as age uses it.

Contract, matching age's own encoder:
- no 90-character limit (age identities and plugin strings are longer);
- the string is all lower case or all upper case, never mixed; the human-readable part
  (HRP) is returned *as written*, so callers can insist on ``age`` vs ``AGE-SECRET-KEY-``;
- 8-to-5-bit conversion pads with zero bits on encode and, on decode, rejects padding of
  five bits or more and any non-zero padding bit (one payload, one string).
"""

from __future__ import annotations

from .errors import KeyFormatError

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LEN = 6


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _to_5bit(data: bytes) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    for byte in data:
        acc = (acc << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def _to_8bit(groups: list[int]) -> bytes:
    acc = bits = 0
    out = bytearray()
    for group in groups:
        acc = (acc << 5) | group
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or acc & ((1 << bits) - 1):
        raise KeyFormatError("bad-padding", "bech32 data has non-canonical padding bits")
    return bytes(out)


def encode(hrp: str, data: bytes) -> str:
    """Encode ``data`` under ``hrp``; an upper-case HRP gives an all-upper-case string."""
    if not hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise ValueError(f"invalid bech32 human-readable part {hrp!r}")
    if hrp.lower() != hrp and hrp.upper() != hrp:
        raise ValueError(f"mixed-case bech32 human-readable part {hrp!r}")
    lower = hrp.lower()
    groups = _to_5bit(data)
    polymod = _polymod([*_hrp_expand(lower), *groups, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LEN)]
    text = lower + "1" + "".join(_CHARSET[g] for g in groups + checksum)
    return text.upper() if hrp.upper() == hrp and hrp.lower() != hrp else text


def decode(text: str) -> tuple[str, bytes]:
    """Return ``(hrp, data)``; raise ``KeyFormatError`` naming what is wrong."""
    if text.lower() != text and text.upper() != text:
        raise KeyFormatError("mixed-case", "bech32 string mixes upper and lower case")
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise KeyFormatError("bad-character", "bech32 string has a non-printable character")
    pos = text.rfind("1")
    if pos < 1:
        raise KeyFormatError("no-hrp", "bech32 string has no human-readable part")
    if len(text) - pos - 1 < _CHECKSUM_LEN:
        raise KeyFormatError("too-short", "bech32 string is too short for its checksum")
    hrp = text[:pos]
    try:
        groups = [_VALUES[c] for c in text[pos + 1 :].lower()]
    except KeyError:
        raise KeyFormatError(
            "bad-character", "bech32 data part has a character outside the alphabet"
        ) from None
    if _polymod([*_hrp_expand(hrp.lower()), *groups]) != 1:
        raise KeyFormatError("bad-checksum", "bech32 checksum does not match (typo?)")
    return hrp, _to_8bit(groups[:-_CHECKSUM_LEN])
