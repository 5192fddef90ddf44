"""Interop with the stock ``age`` CLI, both directions, plus a pinned known-answer file.

The recovery promise in docs/design/age-format.md is that ``age -d`` reads our files with
no Porchlight code; these tests run the real binary to prove it. Passphrase tests drive
age on a pseudo-terminal because age reads passphrases only from the terminal.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from nvr.crypto import (
    CHUNK_SIZE,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    decrypt,
    encrypt_stream,
    parse_identity_file,
)
from nvr.crypto.header import parse_header
from tests.crypto.conftest import AgeCli, AgeTty, Seal

ME = X25519Identity.generate()
SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 150_001]


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "key.txt"
    path.write_text(f"# public key: {ME.recipient()}\n{ME.to_string()}\n")
    return path


@pytest.mark.parametrize("size", SIZES)
def test_age_decrypts_ours(
    age_cli: AgeCli, seal: Seal, keyfile: Path, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    sealed = tmp_path / "segment.age"
    sealed.write_bytes(seal(data, [X25519Identity.generate().recipient(), ME.recipient()]))
    result = age_cli("-d", "-i", keyfile, sealed)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout == data


@pytest.mark.parametrize("size", SIZES)
def test_we_decrypt_age(age_cli: AgeCli, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    other = X25519Identity.generate()
    result = age_cli("-r", str(other.recipient()), "-r", str(ME.recipient()), stdin=data)
    assert result.returncode == 0, result.stderr
    assert decrypt(io.BytesIO(result.stdout), [ME]).read() == data


def test_we_read_an_age_keygen_identity_file(age_cli: AgeCli, tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    subprocess.run(["age-keygen", "-o", str(keys)], check=True, capture_output=True)
    identities = parse_identity_file(keys.read_text())
    result = age_cli("-e", "-i", keys, stdin=b"from age")
    assert decrypt(io.BytesIO(result.stdout), identities).read() == b"from age"


# Known answer: recipient from secret 00..1f; "random" draws are file key = 01 x16,
# ephemeral secret = 02 x32, payload nonce = 03 x16. The exact header and file hash are
# pinned, and the age CLI must decrypt the file: together they fix every derivation.
KAT_IDENTITY = "AGE-SECRET-KEY-1QQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSNZS23V9CCRYDPK8QARC0SWRYDWG"
KAT_RECIPIENT = "age13aqvttdk3ujkyjh9kg2w5an6dmy5mq5a84a4uxk3hfhnugfc9p0sy5p2wh"
KAT_PLAINTEXT = bytes(range(256)) * 300  # two chunks, the second short
KAT_HEADER = (
    b"age-encryption.org/v1\n"
    b"-> X25519 zo060cy2M+x7cMF4FKXHbs0CloUFDTRHRboFhw5YfVk\n"
    b"HvhDQXhWRMmWSeZePwrND7KH8Pm/AJJhzRIAkie7CpY\n"
    b"--- wKu+FN+61k3PP82+P9zyyvwXFr8n3Y6cy5w3G2W0sbo\n"
)
KAT_SHA256 = "bfbcfde832a081beaed2f551cff1d621aaecb35baacb7684bfffbc4b21a632d0"


def _kat_file() -> bytes:
    identity = X25519Identity.from_bytes(bytes(range(32)))
    assert (identity.to_string(), str(identity.recipient())) == (KAT_IDENTITY, KAT_RECIPIENT)
    draws = iter(range(1, 256))
    out = io.BytesIO()
    with encrypt_stream(out, [identity.recipient()], _rand=lambda n: bytes([next(draws)]) * n) as w:
        w.write(KAT_PLAINTEXT)
    return out.getvalue()


def test_known_answer_file_is_byte_exact() -> None:
    blob = _kat_file()
    assert blob[: parse_header(blob).size] == KAT_HEADER
    assert blob[len(KAT_HEADER) : len(KAT_HEADER) + 16] == b"\x03" * 16
    assert hashlib.sha256(blob).hexdigest() == KAT_SHA256


def test_age_decrypts_the_known_answer_file(age_cli: AgeCli, tmp_path: Path) -> None:
    (tmp_path / "kat.age").write_bytes(_kat_file())
    (tmp_path / "kat.key").write_text(KAT_IDENTITY + "\n")
    result = age_cli("-d", "-i", tmp_path / "kat.key", tmp_path / "kat.age")
    assert (result.returncode, result.stdout) == (0, KAT_PLAINTEXT)


# --- passphrases (scrypt), over a pseudo-terminal ---------------------------------------


def test_age_decrypts_our_passphrase_file(age_tty: AgeTty, seal: Seal, tmp_path: Path) -> None:
    sealed, plain = tmp_path / "secret.age", tmp_path / "secret.txt"
    sealed.write_bytes(seal(b"passphrase-protected", [ScryptRecipient(b"tr0ub4dor", log_n=10)]))
    code, transcript = age_tty(["age", "-d", "-o", str(plain), str(sealed)], [b"tr0ub4dor"])
    assert code == 0, transcript
    assert plain.read_bytes() == b"passphrase-protected"


def test_we_decrypt_age_passphrase_file(age_tty: AgeTty, tmp_path: Path) -> None:
    plain, sealed = tmp_path / "p.txt", tmp_path / "p.age"
    plain.write_bytes(b"typed at a terminal")
    code, transcript = age_tty(["age", "-p", "-o", str(sealed), str(plain)], [b"pw!", b"pw!"])
    assert code == 0, transcript
    assert b" scrypt " in sealed.read_bytes()
    # age's default work factor (2^18) is under our default limit.
    with sealed.open("rb") as f:
        assert decrypt(f, [ScryptIdentity(b"pw!")]).read() == b"typed at a terminal"


def test_recovery_path_with_only_age(age_tty: AgeTty, seal: Seal, tmp_path: Path) -> None:
    """The owner's passphrase-wrapped identity file plus a segment: ``age -d -i`` suffices."""
    owner = X25519Identity.generate()
    identity_file = f"# public key: {owner.recipient()}\n{owner.to_string()}\n".encode()
    (tmp_path / "owner.age").write_bytes(
        seal(identity_file, [ScryptRecipient(b"owner pass", log_n=10)])
    )
    (tmp_path / "seg.age").write_bytes(seal(b"footage", [owner.recipient()]))
    out = tmp_path / "seg.mp4"
    argv = [
        "age",
        "-d",
        "-i",
        str(tmp_path / "owner.age"),
        "-o",
        str(out),
        str(tmp_path / "seg.age"),
    ]
    code, transcript = age_tty(argv, [b"owner pass"])
    assert code == 0, transcript
    assert out.read_bytes() == b"footage"
