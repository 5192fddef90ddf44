"""Finding and loading the config file.

Contract:
- ``locate_config(explicit)`` returns the first of: ``explicit`` (the ``--config`` path),
  ``$NVR_CONFIG``, then the first existing file of ``search`` (default ``/etc/nvr/nvr.yaml``
  then ``./config/nvr.yaml``), or ``None``. An explicit path or ``$NVR_CONFIG`` naming no file
  is a ``UserError``.
- ``load_config(path)`` reads it (``None``: locate; nothing found: ``Config()``, no cameras).
- ``parse_config_text(text, filename)`` validates a document; every problem is reported at
  once in one ``ConfigError``, each at its file and line. ``!secret`` reads ``secrets_file``,
  else ``$NVR_SECRETS_FILE``, else ``secrets.yaml`` next to ``filename``.
The environment is a parameter (default ``os.environ``) so tests never touch the real one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from nvr.config.errors import ConfigError, ConfigIssue
from nvr.config.messages import explain_errors
from nvr.config.models import Config
from nvr.config.secretsfile import SecretsFile
from nvr.config.source import read_source
from nvr.errors import UserError

__all__ = ["DEFAULT_SEARCH", "load_config", "locate_config", "parse_config_text"]

DEFAULT_SEARCH: tuple[Path, ...] = (Path("/etc/nvr/nvr.yaml"), Path("config/nvr.yaml"))
"""Where the config is looked for when neither ``--config`` nor ``$NVR_CONFIG`` is given."""


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError as exc:
        raise UserError(
            f"cannot access {path}: {exc.strerror}", hint="run as a user that may read it"
        ) from None


def locate_config(
    explicit: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    search: Sequence[Path] = DEFAULT_SEARCH,
) -> Path | None:
    """The config file to use, or ``None`` when there is none (see the module docstring)."""
    if explicit is not None:
        if not _is_file(explicit):
            what = "is a directory" if explicit.is_dir() else "does not exist"
            raise UserError(f"config file {explicit} {what}")
        return explicit
    env = os.environ if env is None else env
    named = env.get("NVR_CONFIG")
    if named:
        path = Path(named)
        if not _is_file(path):
            raise UserError(
                f"$NVR_CONFIG names {path}, which is not a file",
                hint="fix or unset NVR_CONFIG",
            )
        return path
    for candidate in search:
        if _is_file(candidate):
            return candidate
    return None


def load_config(
    path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    search: Sequence[Path] = DEFAULT_SEARCH,
) -> Config:
    """Load and validate the config at ``path`` (``None``: locate it; none found: defaults)."""
    env = os.environ if env is None else env
    located = locate_config(path, env=env, search=search)
    if located is None:
        return Config()
    try:
        raw = located.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read config file {located}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [ConfigIssue(str(located), None, "", f"is not UTF-8 text (byte {exc.start})")]
        ) from None
    return parse_config_text(text, str(located), env=env)


def parse_config_text(
    text: str,
    filename: str,
    *,
    env: Mapping[str, str] | None = None,
    secrets_file: Path | None = None,
) -> Config:
    """Validate config ``text``; ``filename`` is used in messages and to find relative paths."""
    env = os.environ if env is None else env
    base_dir = Path(filename).parent
    if secrets_file is None:
        named = env.get("NVR_SECRETS_FILE")
        secrets_file = Path(named) if named else base_dir / "secrets.yaml"
    source = read_source(text, filename, env=env, secrets=SecretsFile(secrets_file))
    errors: list[ErrorDetails] = []
    config = None
    try:
        config = Config.model_validate(source.data, context={"base_dir": base_dir})
    except ValidationError as exc:
        # Raised below, outside this block, so no traceback carries pydantic's own text.
        errors = exc.errors(include_url=False)
    issues = source.issues + explain_errors(
        errors,
        Config,
        file=filename,
        lines=source.lines,
        hidden=source.hidden,
        skip=source.failed,
    )
    if issues or config is None:
        issues.sort(key=lambda issue: (issue.file != filename, issue.line or 0))
        raise ConfigError(issues)
    return config
