"""Passphrase files, strength and the scrypt work factor."""

from __future__ import annotations

from pathlib import Path

import pytest

from nvr.errors import UserError
from nvr.keys.passphrase import (
    MIN_LOG_N,
    WeakPassphrase,
    calibrate_log_n,
    check_strength,
    read_passphrase_file,
    wipe,
)


def write(path: Path, data: bytes, mode: int = 0o600) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_reads_the_file_minus_one_newline(tmp_path: Path) -> None:
    assert read_passphrase_file(write(tmp_path / "p", b"two words\n")) == b"two words"
    assert read_passphrase_file(write(tmp_path / "q", b"crlf\r\n")) == b"crlf"
    assert read_passphrase_file(write(tmp_path / "r", b" keep  spaces \n\n")) == b" keep  spaces \n"


def test_refuses_files_others_can_read(tmp_path: Path) -> None:
    path = write(tmp_path / "p", b"secret words here\n", 0o644)
    with pytest.raises(UserError, match="mode 0644") as info:
        read_passphrase_file(path)
    assert info.value.hint == f"chmod 600 {path}"
    assert "secret words" not in str(info.value)


def test_refuses_empty_missing_and_non_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is empty"):
        read_passphrase_file(write(tmp_path / "p", b"\n"))
    with pytest.raises(UserError, match="cannot read passphrase file"):
        read_passphrase_file(tmp_path / "missing")
    with pytest.raises(UserError, match="not a regular file"):
        read_passphrase_file(tmp_path)


@pytest.mark.parametrize(
    ("passphrase", "reason"),
    [
        ("short1!", "too short"),
        ("password1234", "too weak: This is a very common password"),
        ("qwertyuiop123", "too weak: This is a very common password"),
        ("porchlightporchlight", "too weak: Repeats like"),
        ("aaaaaaaaaaaaaaaa", "too weak: Repeats like"),
    ],
)
def test_weak_passphrases_are_refused_with_a_reason(passphrase: str, reason: str) -> None:
    with pytest.raises(WeakPassphrase, match=reason):
        check_strength(passphrase.encode())


def test_owner_name_counts_against_the_passphrase() -> None:
    check_strength(b"correct horse battery staple")
    with pytest.raises(WeakPassphrase):
        check_strength(b"smithersjonathan1", context=["jonathan", "smithers"])
    check_strength(b"smithersjonathan1-x")  # the same without the context is fine


def test_strong_passphrase_passes() -> None:
    check_strength(b"sunny-Meadow-42-quietly")


def test_long_passphrases_are_judged_not_refused() -> None:
    # zxcvbn itself raises for more than 72 characters; a long passphrase is a good one.
    check_strength(("sunny-Meadow-42-quietly " * 8).encode())
    with pytest.raises(WeakPassphrase):
        check_strength(b"a" * 200)


def test_calibration_targets_about_the_given_time() -> None:
    # A machine where logN 15 takes 0.1 s and each step doubles it.
    def fake(log_n: int) -> float:
        return 0.1 * float(2 ** (log_n - 15))

    assert calibrate_log_n(1.0, fake) == 18  # 0.8 s; 19 would be 1.6 s
    assert calibrate_log_n(0.01, fake) == MIN_LOG_N  # never below the floor


def test_wipe_zeroes_the_buffer() -> None:
    buf = bytearray(b"secret")
    wipe(buf)
    assert buf == bytearray(6)
