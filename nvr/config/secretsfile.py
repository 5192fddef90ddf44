"""The secrets file that ``!secret name`` tags read: a flat YAML mapping of name -> string.

Contract: ``SecretsFile(path).get(name)`` reads the file once, on first use, so a config
without ``!secret`` never touches it. The file must be a regular file that neither group nor
others may read or write (``mode & 0o077 == 0``); otherwise, or when it is not a flat mapping
of strings, ``ConfigError`` is raised naming the path (and for a bad mode the actual mode and
the ``chmod 600`` fix). A missing file is not an error here: ``get`` raises
``SecretsFileMissing`` and the caller reports it where ``!secret`` was used. No message ever
contains a secret's value.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

from nvr.config.errors import ConfigError, ConfigIssue, yaml_error_issue

__all__ = ["SecretsFile", "SecretsFileMissing", "read_secrets"]


class SecretsFileMissing(Exception):
    """The secrets file does not exist."""


def read_secrets(path: Path) -> dict[str, str]:
    """Check the permissions of ``path`` and read it. ``FileNotFoundError`` if absent."""
    file = str(path)
    try:
        # Check the open file, so the mode checked is that of the file read. O_NONBLOCK: a FIFO
        # must be refused below, not block here.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue(file, None, "", f"cannot open the secrets file: {exc.strerror}")]
        ) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError([ConfigIssue(file, None, "", "the secrets file is not a file")])
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise ConfigError(
                [
                    ConfigIssue(
                        file,
                        None,
                        "",
                        f"the secrets file has mode {mode:04o}, so other users may read or "
                        f"change it; make it private with: chmod 600 {file}",
                    )
                ]
            )
        raw = b""
        while chunk := os.read(fd, 65536):
            raw += chunk
    finally:
        os.close(fd)
    return _parse(raw, file)


def _parse(raw: bytes, file: str) -> dict[str, str]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError([ConfigIssue(file, None, "", "is not UTF-8 text")]) from None
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise ConfigError([yaml_error_issue(exc, file)]) from None
    if data is None:
        return {}
    if not isinstance(data, CommentedMap):
        raise ConfigError(
            [ConfigIssue(file, 1, "", "must be a mapping of secret names to strings")]
        )
    secrets: dict[str, str] = {}
    issues = []
    for key, value in data.items():
        position = data.lc.data.get(key)
        line = position[0] + 1 if position else None
        if not isinstance(key, str):
            issues.append(ConfigIssue(file, line, "", "secret names must be strings"))
        elif not isinstance(value, str):
            # Say what is wrong without showing the value.
            issues.append(ConfigIssue(file, line, key, "must be a string (put it in quotes)"))
        else:
            secrets[key] = str(value)
    if issues:
        raise ConfigError(issues)
    return secrets


class SecretsFile:
    """A secrets file read on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._secrets: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        """The secret called ``name``, or ``None`` if the file has no such entry."""
        if self._secrets is None:
            try:
                self._secrets = read_secrets(self.path)
            except FileNotFoundError:
                raise SecretsFileMissing(str(self.path)) from None
        return self._secrets.get(name)
