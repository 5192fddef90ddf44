"""Config errors: every problem found in a file, each with its file, line and key path.

Contract: ``ConfigError`` is a ``UserError`` whose message lists all ``issues``, one per line,
as ``FILE:LINE: PATH: MESSAGE`` (line and path are left out when unknown), e.g.
``nvr.yaml:14: cameras[0].record: 'continous' is not one of continuous, events, off``.
FILE is the path as the user gave it. Messages never contain a secret's value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError

from nvr.errors import UserError

__all__ = ["ConfigError", "ConfigIssue", "Loc", "format_path", "yaml_error_issue"]

Loc = tuple[str | int, ...]
"""A key path into the config: mapping keys and list indexes, as pydantic reports them."""


def format_path(loc: Loc) -> str:
    """``('cameras', 0, 'record')`` -> ``cameras[0].record``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: where it is (file, 1-based line, key path) and what is wrong."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(UserError):
    """A config file that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[ConfigIssue], *, hint: str | None = None) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues), hint=hint)


def yaml_error_issue(exc: MarkedYAMLError, file: str) -> ConfigIssue:
    """A YAML syntax error as an issue, without quoting values (they may be passwords)."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, DuplicateKeyError):
        # ruamel's own text quotes both values of the key.
        first = exc.context_mark.line + 1 if exc.context_mark is not None else None
        key = _duplicate_key_name(exc.problem or "")
        where = f" (the mapping starting on line {first})" if first else ""
        return ConfigIssue(file, line, "", f"duplicate key {key}{where}")
    message = exc.problem or "invalid YAML"
    if exc.context and message.startswith("but "):
        # ruamel splits "expected X, but found Y" across context and problem.
        message = f"{exc.context}, {message}"
    elif exc.context:
        context_line = exc.context_mark.line + 1 if exc.context_mark is not None else None
        started = f" started on line {context_line}" if context_line not in (None, line) else ""
        message += f" ({exc.context}{started})"
    if "'\\t'" in message:
        message += "; indent with spaces, YAML does not allow tabs"
    return ConfigIssue(file, line, "", message)


def _duplicate_key_name(problem: str) -> str:
    # problem reads: found duplicate key "KEY" with value "..." (original value: "...")
    start = problem.find('"')
    end = problem.find('" with value')
    if start == -1 or end <= start:
        return "in a mapping"
    return f"'{problem[start + 1 : end]}'"
