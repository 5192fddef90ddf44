"""From YAML text to plain data, with a line for every key and list item.

Contract: ``read_source`` parses with ruamel.yaml's round-trip loader and returns a
``Source``: the document as plain dicts, lists and scalars; ``lines`` mapping each key path to
its 1-based line; ``issues`` for problems found here; ``failed`` paths (their value could not
be resolved, so later errors about them are noise) and ``hidden`` paths (their value came
from the secrets file or the environment and must never be echoed). On the way:
- ``${NAME}`` in a string value is replaced by the environment variable (``$${`` gives a
  literal ``${``); an unset variable is an issue naming it, at the value's line.
- ``!secret name`` is replaced by that entry of the secrets file.
A YAML syntax error raises ``ConfigError`` at once: there is no tree to check further.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, ReusedAnchorWarning
from ruamel.yaml.scalarbool import ScalarBoolean

from nvr.config.errors import ConfigError, ConfigIssue, Loc, format_path, yaml_error_issue
from nvr.config.secretsfile import SecretsFile, SecretsFileMissing

__all__ = ["Source", "read_source", "substitute_env"]

_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)(?P<end>\})?")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_STR_TAG = "tag:yaml.org,2002:str"


def substitute_env(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand ``${NAME}`` in ``text``; returns the result and the problems (never values)."""
    problems: list[str] = []

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match["body"]
        if match["end"] is None:
            problems.append("'${' without a closing '}' (write '$${' for a literal '${')")
        elif not _VAR_NAME.fullmatch(body):
            problems.append(
                "'${...}' must hold an environment variable name: letters, digits and '_' "
                "(write '$${' for a literal '${')"
            )
        elif body not in env:
            problems.append(f"environment variable {body} is not set")
        else:
            return env[body]
        return match.group(0)

    return _REFERENCE.sub(expand, text), problems


@dataclass
class Source:
    """A parsed config document and where each part of it came from."""

    file: str
    data: Any = None
    lines: dict[Loc, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    failed: set[Loc] = field(default_factory=set)
    hidden: set[Loc] = field(default_factory=set)


class _Resolver:
    def __init__(self, source: Source, env: Mapping[str, str], secrets: SecretsFile) -> None:
        self.source = source
        self.env = env
        self.secrets = secrets
        self.secrets_broken = False

    def fail(self, loc: Loc, line: int | None, message: str) -> None:
        self.source.issues.append(ConfigIssue(self.source.file, line, format_path(loc), message))
        self.source.failed.add(loc)

    def plain(self, node: Any, loc: Loc, line: int) -> Any:
        tag = getattr(getattr(node, "tag", None), "value", None)
        if isinstance(node, TaggedScalar):
            return self.tagged(node, tag, loc, line)
        if tag is not None and not tag.startswith("tag:yaml.org,2002:"):
            self.fail(loc, line, f"unknown tag {tag}; only !secret is supported")
            return None
        if isinstance(node, CommentedMap):
            result = {}
            for key, value in node.items():
                position = node.lc.data.get(key)
                key_line = position[0] + 1 if position else line
                child = (*loc, str(key))
                self.source.lines[child] = key_line
                value_line = position[2] + 1 if position else key_line
                result[str(key)] = self.plain(value, child, value_line)
            return result
        if isinstance(node, CommentedSeq):
            items = []
            for index, value in enumerate(node):
                position = node.lc.data.get(index)
                item_line = position[0] + 1 if position else line
                self.source.lines[(*loc, index)] = item_line
                items.append(self.plain(value, (*loc, index), item_line))
            return items
        if isinstance(node, str):
            return self.string(str(node), loc, line)
        if isinstance(node, bool | ScalarBoolean):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        return node  # None, dates: the models say whether they fit

    def string(self, text: str, loc: Loc, line: int) -> str:
        if _REFERENCE.search(text):
            # Environment values are often passwords: errors must not quote them.
            self.source.hidden.add(loc)
        value, problems = substitute_env(text, self.env)
        for problem in problems:
            self.fail(loc, line, problem)
        return value

    def tagged(self, node: TaggedScalar, tag: str | None, loc: Loc, line: int) -> Any:
        if tag == _STR_TAG:
            return self.string(str(node.value), loc, line)
        if tag != "!secret":
            self.fail(loc, line, f"unknown tag {tag}; only !secret is supported")
            return None
        name = str(node.value or "").strip()
        self.source.hidden.add(loc)
        if not _SECRET_NAME.fullmatch(name):
            self.fail(loc, line, "!secret needs a name made of letters, digits, '.', '_', '-'")
            return None
        if self.secrets_broken:
            self.source.failed.add(loc)
            return None
        try:
            value = self.secrets.get(name)
        except SecretsFileMissing:
            self.fail(
                loc, line, f"!secret {name}: the secrets file {self.secrets.path} does not exist"
            )
            return None
        except ConfigError as exc:
            self.secrets_broken = True
            self.source.issues.extend(exc.issues)
            self.source.failed.add(loc)
            return None
        if value is None:
            self.fail(loc, line, f"!secret {name}: no such entry in {self.secrets.path}")
        return value


def read_source(text: str, file: str, *, env: Mapping[str, str], secrets: SecretsFile) -> Source:
    """Parse ``text`` (named ``file`` in messages) and resolve variables and secrets."""
    source = Source(file)
    try:
        with warnings.catch_warnings():
            # Redefining an anchor is valid YAML; ruamel only warns about it.
            warnings.simplefilter("ignore", ReusedAnchorWarning)
            tree = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise ConfigError([yaml_error_issue(exc, file)]) from None
    except ValueError:
        # A constructor choking on an explicit tag such as '!!int abc'; no mark to give.
        issue = ConfigIssue(file, None, "", "invalid YAML value (check the !! tags)")
        raise ConfigError([issue]) from None
    if tree is None:
        source.data = {}
        return source
    source.lines[()] = 1
    if not isinstance(tree, CommentedMap):
        line = tree.lc.line + 1 if isinstance(tree, CommentedSeq) else 1
        raise ConfigError(
            [ConfigIssue(file, line, "", "the top level must be a mapping (server:, cameras: ...)")]
        )
    source.data = _Resolver(source, env, secrets).plain(tree, (), 1)
    return source
