"""The secrets file: private or refused, a flat mapping of strings, read only when needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nvr.config import ConfigError
from nvr.config.secretsfile import SecretsFile, SecretsFileMissing, read_secrets

WriteFile = Callable[..., Path]


def test_private_file_is_read(write: WriteFile) -> None:
    path = write("secrets.yaml", "# comment\nfront: hunter2\nquoted: '0123'\n", 0o600)
    assert read_secrets(path) == {"front": "hunter2", "quoted": "0123"}


def test_owner_read_only_is_fine(write: WriteFile) -> None:
    assert read_secrets(write("secrets.yaml", "a: b\n", 0o400)) == {"a": "b"}


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666])
def test_file_others_may_read_or_write_is_refused(write: WriteFile, mode: int) -> None:
    path = write("secrets.yaml", "front: hunter2\n", mode)
    with pytest.raises(ConfigError) as info:
        read_secrets(path)
    message = str(info.value)
    assert str(path) in message
    assert f"mode {mode:04o}" in message
    assert f"chmod 600 {path}" in message
    assert "hunter2" not in message


def test_empty_file_has_no_secrets(write: WriteFile) -> None:
    assert read_secrets(write("secrets.yaml", "", 0o600)) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", ":1: must be a mapping of secret names to strings"),
        ("a: b\npin: 1234\n", ":2: pin: must be a string (put it in quotes)"),
        ("a: b\nnested: {x: hunter2}\n", ":2: nested: must be a string"),
        ("a: hunter2\na: hunter3\n", ":2: duplicate key 'a'"),
        ("a: 'hunter2\n", ":2: found unexpected end of stream"),
    ],
    ids=["list", "number", "mapping", "duplicate", "syntax"],  # values stay out of tmp_path
)
def test_malformed_file(write: WriteFile, text: str, message: str) -> None:
    path = write("secrets.yaml", text, 0o600)
    with pytest.raises(ConfigError) as info:
        read_secrets(path)
    assert str(info.value).startswith(f"{path}{message}")
    assert "hunter2" not in str(info.value)
    assert "1234" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_secrets(tmp_path / "secrets.yaml")
    with pytest.raises(SecretsFileMissing):
        SecretsFile(tmp_path / "secrets.yaml").get("x")


def test_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "secrets.yaml"
    folder.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match=r"cannot open the secrets file|is not a file"):
        read_secrets(folder)


def test_symlink_to_a_private_file_is_followed(write: WriteFile, tmp_path: Path) -> None:
    target = write("real/secrets.yaml", "a: b\n", 0o600)
    link = tmp_path / "secrets.yaml"
    link.symlink_to(target)
    assert read_secrets(link) == {"a": "b"}


def test_read_once_on_first_use(write: WriteFile) -> None:
    path = write("secrets.yaml", "a: one\n", 0o600)
    secrets = SecretsFile(path)
    path.unlink()  # nothing read yet: constructing it does no I/O
    path = write("secrets.yaml", "a: two\n", 0o600)
    assert secrets.get("a") == "two"
    path.chmod(0o644)  # already read: not read again
    assert secrets.get("a") == "two"
    assert secrets.get("b") is None
