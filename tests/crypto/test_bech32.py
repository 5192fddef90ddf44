"""Bech32 as age uses it: round trips, case rules, and each rejection's reason."""

from __future__ import annotations

import pytest

from nvr.crypto import KeyFormatError, bech32


@pytest.mark.parametrize("size", [0, 1, 5, 31, 32, 33, 64, 200])
@pytest.mark.parametrize("hrp", ["age", "AGE-SECRET-KEY-", "x"])
def test_round_trip_any_length_without_the_90_char_limit(hrp: str, size: int) -> None:
    data = bytes(range(size % 256)) * (size // 256) + bytes(range(size % 256))
    text = bech32.encode(hrp, data)
    assert bech32.decode(text) == (hrp, data)
    assert text == (text.upper() if hrp.isupper() else text.lower())


def test_bip173_vector_in_both_cases() -> None:
    # BIP 173's smallest valid strings: HRP "a", no data.
    assert bech32.decode("a12uel5l") == ("a", b"")
    assert bech32.decode("A12UEL5L") == ("A", b"")
    assert bech32.encode("a", b"") == "a12uel5l"


def _bech32m(hrp: str, groups: list[int]) -> str:
    """Same data under the bech32m constant: age must not accept it."""
    values = [*bech32._hrp_expand(hrp), *groups, 0, 0, 0, 0, 0, 0]
    polymod = bech32._polymod(values) ^ 0x2BC830A3
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(bech32._CHARSET[g] for g in groups + checksum)


def _with_groups(hrp: str, groups: list[int]) -> str:
    values = [*bech32._hrp_expand(hrp), *groups, 0, 0, 0, 0, 0, 0]
    polymod = bech32._polymod(values) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(bech32._CHARSET[g] for g in groups + checksum)


GOOD = bech32.encode("age", bytes(range(32)))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(GOOD[:-1] + ("q" if GOOD[-1] != "q" else "p"), "bad-checksum", id="typo"),
        pytest.param(GOOD[:10] + GOOD[11] + GOOD[10] + GOOD[12:], "bad-checksum", id="swap"),
        pytest.param(_bech32m("age", [1, 2, 3, 4]), "bad-checksum", id="bech32m"),
        pytest.param(GOOD[:5] + GOOD[5:].upper(), "mixed-case", id="mixed-case"),
        pytest.param("1qqqqqqqq", "no-hrp", id="empty-hrp"),
        pytest.param("ageqqqqqqqq", "no-hrp", id="no-separator"),
        pytest.param("age1qqqqq", "too-short", id="short-checksum"),
        pytest.param(GOOD[:8] + "b" + GOOD[9:], "bad-character", id="b-not-in-alphabet"),
        pytest.param("age 1" + GOOD[4:], "bad-character", id="space"),
        pytest.param(_with_groups("age", [0, 1]), "bad-padding", id="nonzero-pad-bit"),
        pytest.param(_with_groups("age", [0, 0, 0]), "bad-padding", id="pad-7-bits"),
    ],
)
def test_rejects_with_reason(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        bech32.decode(text)
    assert caught.value.reason == reason


def test_encode_refuses_mixed_case_hrp() -> None:
    with pytest.raises(ValueError, match="mixed-case"):
        bech32.encode("Age", b"x")
