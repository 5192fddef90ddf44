"""age X25519 keys and their strings; interop with ``age-keygen`` both ways."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from nvr.crypto import (
    KeyFormatError,
    X25519Identity,
    X25519Recipient,
    bech32,
    parse_identity,
    parse_identity_file,
    parse_recipient,
)

needs_keygen = pytest.mark.usefixtures("age_required")


def test_identity_round_trips_through_its_string() -> None:
    identity = X25519Identity.generate()
    text = identity.to_string()
    assert text.startswith("AGE-SECRET-KEY-1")
    assert text == text.upper()
    again = parse_identity(text)
    assert again.to_string() == text
    assert again.recipient() == identity.recipient()


def test_recipient_round_trips_through_its_string() -> None:
    recipient = X25519Identity.generate().recipient()
    assert str(recipient).startswith("age1")
    assert parse_recipient(str(recipient)) == recipient


def test_fixed_secret_gives_fixed_strings() -> None:
    identity = X25519Identity.from_bytes(bytes(range(32)))
    assert parse_identity(identity.to_string()).to_string() == identity.to_string()
    assert bech32.decode(identity.to_string()) == ("AGE-SECRET-KEY-", bytes(range(32)))


def test_repr_does_not_leak_the_secret() -> None:
    identity = X25519Identity.from_bytes(bytes(range(32)))
    assert identity.to_string() not in repr(identity)
    assert "000102" not in repr(identity)


@needs_keygen
def test_age_keygen_identity_parses_to_its_public_key(tmp_path: Path) -> None:
    keyfile = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(keyfile)], check=True, capture_output=True)
    text = keyfile.read_text()
    public = next(line.split(": ")[1] for line in text.splitlines() if "public key" in line)
    (identity,) = parse_identity_file(text)
    assert str(identity.recipient()) == public
    assert parse_recipient(public) == identity.recipient()


@needs_keygen
def test_age_keygen_derives_our_recipient_from_our_identity(tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(identity.to_string() + "\n")
    out = subprocess.run(["age-keygen", "-y", str(keyfile)], check=True, capture_output=True)
    assert out.stdout.decode().strip() == str(identity.recipient())


SECRET = X25519Identity.from_bytes(bytes(range(32))).to_string()
PUBLIC = str(X25519Identity.from_bytes(bytes(range(32))).recipient())


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(SECRET.lower(), "bad-hrp", id="identity-lowercase"),
        pytest.param(PUBLIC, "bad-hrp", id="recipient-given-as-identity"),
        pytest.param(bech32.encode("AGE-SECRET-KEY-", bytes(31)), "bad-length", id="31-bytes"),
        pytest.param(SECRET[:-1] + ("Q" if SECRET[-1] != "Q" else "P"), "bad-checksum", id="typo"),
        pytest.param(" " + SECRET, "bad-character", id="leading-space"),
    ],
)
def test_parse_identity_rejects_with_reason(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_identity(text)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(PUBLIC.upper(), "bad-hrp", id="recipient-uppercase"),
        pytest.param(SECRET, "bad-hrp", id="identity-given-as-recipient"),
        pytest.param(bech32.encode("age", bytes(33)), "bad-length", id="33-bytes"),
        pytest.param(PUBLIC[:-1] + ("q" if PUBLIC[-1] != "q" else "p"), "bad-checksum", id="typo"),
        pytest.param(PUBLIC[:7] + PUBLIC[7:].upper(), "mixed-case", id="mixed-case"),
    ],
)
def test_parse_recipient_rejects_with_reason(text: str, reason: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_recipient(text)
    assert caught.value.reason == reason


def test_identity_file_skips_comments_and_blank_lines() -> None:
    one, two = X25519Identity.generate(), X25519Identity.generate()
    text = f"# created: now\n# public key: {one.recipient()}\n{one.to_string()}\n\n"
    text += f"{two.to_string()}\n"
    assert [i.recipient() for i in parse_identity_file(text)] == [
        one.recipient(),
        two.recipient(),
    ]


def test_identity_file_without_keys_is_refused() -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_identity_file("# nothing here\n")
    assert caught.value.reason == "no-identities"


def test_recipient_is_a_value() -> None:
    assert X25519Recipient(bytes(32)) == X25519Recipient(bytes(32))
