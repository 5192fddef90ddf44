"""Editing the config file in place, keeping every comment, key order and the indentation.

Contract:
- ``add_camera(path, camera, secrets=...)`` appends ``camera`` (plain data; a ``SecretRef``
  value is written as ``!secret name``) to ``cameras:``; ``remove_camera(path, name)``
  takes it out again. A missing config file is created from ``DEFAULT_TEXT``.
- ``camera_data(path, name)`` is camera ``name`` as plain data (``!secret`` values stay
  ``TaggedScalar`` nodes, flow lists ``FlowList``), and ``replace_camera(path, name,
  camera, secrets=...)`` writes an edited one in its place (the dashboard's camera edit):
  comments around it stay, comments inside it are lost. A ``FlowList`` is written
  ``[a, b]`` on one line (polygon points).
- ``secrets`` (name -> value) are merged into the secrets file the loader would read
  (``$NVR_SECRETS_FILE``, else ``secrets.yaml`` beside the config), created mode 0600.
- Nothing is replaced until the NEW text has passed the normal loader
  (``parse_config_text``, against the new secrets): an edit that would break the config
  raises its ``ConfigError`` and leaves both files as they were. Each file is then written
  as: write a temp file in the same folder, fsync, chmod to the old mode, rename over the
  old file, fsync the folder. Secrets first, so the config never names a missing secret.
- A duplicate or unknown camera name is a ``UserError``.
- ``set_retention(path, continuous_days=..., event_days=..., quota=...)`` changes the
  default retention and the quota (the dashboard's settings page) the same way: only the
  value on its line changes, missing keys are added under their section.

A camera's lines run from its ``- name:`` line to its last non-comment line: comments after
it stay where they are (they usually introduce what follows), comments inside it go with it.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from nvr.config.errors import ConfigError, ConfigIssue, yaml_error_issue
from nvr.config.loader import parse_config_text
from nvr.config.secretsfile import read_secrets
from nvr.errors import UserError

__all__ = [
    "DEFAULT_TEXT",
    "FlowList",
    "SecretRef",
    "add_camera",
    "camera_data",
    "camera_names",
    "remove_camera",
    "replace_camera",
    "secrets_path",
    "set_retention",
]

DEFAULT_TEXT = """\
# Porchlight configuration, created by `nvr cameras add`.
# Every key is described in docs/config.md; check this file with: nvr config check FILE
# Passwords live in secrets.yaml beside this file (chmod 600), referenced as !secret NAME.

cameras: []
"""


@dataclass(frozen=True)
class SecretRef:
    """A value written as ``!secret name``: the real value lives in the secrets file."""

    name: str


def secrets_path(config: Path, env: Mapping[str, str] | None = None) -> Path:
    """The secrets file the loader reads for ``config`` (same rule as ``parse_config_text``)."""
    env = os.environ if env is None else env
    named = env.get("NVR_SECRETS_FILE")
    return Path(named) if named else config.parent / "secrets.yaml"


class FlowList(list[Any]):
    """A list written in flow style, ``[0.1, 0.2]``."""


def camera_data(path: Path, name: str) -> dict[str, Any]:
    """Camera ``name`` of the config at ``path`` as plain data; ``UserError`` if absent."""
    doc = _Document.read(path)
    names = doc.names()
    if name not in names:
        raise UserError(f"no camera named {name!r} in {path}")
    assert doc.cameras is not None
    plain = _plain(doc.cameras[names.index(name)])
    assert isinstance(plain, dict)
    return plain


def replace_camera(
    path: Path,
    name: str,
    camera: Mapping[str, Any],
    *,
    secrets: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Put ``camera`` in place of camera ``name`` (same position); validated as ``add``."""
    doc = _Document.read(path)
    names = doc.names()
    if name not in names:
        raise UserError(f"no camera named {name!r} in {path}")
    new_name = str(camera.get("name", ""))
    if new_name != name and new_name in names:
        raise UserError(f"a camera named {new_name!r} is already in {path}")
    doc.replace(names.index(name), _to_yaml(camera))
    _commit(path, doc.text(), secrets or {}, env)


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq) and node.fa.flow_style():
        return FlowList(_plain(item) for item in node)
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def camera_names(path: Path) -> list[str]:
    """The names of the cameras in the config at ``path`` (none if it does not exist)."""
    return [name for name in _Document.read(path).names() if name is not None]


def add_camera(
    path: Path,
    camera: Mapping[str, Any],
    *,
    secrets: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Append ``camera`` to the config at ``path`` (created if missing); see the module doc."""
    doc = _Document.read(path)
    name = str(camera.get("name", ""))
    if name in doc.names():
        raise UserError(
            f"a camera named {name!r} is already in {path}",
            hint=f"choose another --name, or first: nvr cameras remove {name} --config {path}",
        )
    doc.append(_to_yaml(camera))
    _commit(path, doc.text(), secrets or {}, env)


def remove_camera(path: Path, name: str, *, env: Mapping[str, str] | None = None) -> None:
    """Remove the camera called ``name`` from the config at ``path``."""
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    doc = _Document.read(path)
    names = doc.names()
    if name not in names:
        raise UserError(f"no camera named {name!r} in {path}", hint="see: nvr cameras list")
    doc.delete(names.index(name))
    _commit(path, doc.text(), {}, env)


def set_retention(
    path: Path,
    *,
    continuous_days: int,
    event_days: int,
    quota: str | None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Set ``storage.retention.continuous_days``, ``storage.retention.event_days`` and
    ``storage.quota`` (``None``: no quota) in the config at ``path``, in place: only those
    values change (a trailing comment on their line stays), missing keys are added under
    their section. Validated like every edit before the file is replaced. A missing file
    is created (as ``add_camera`` does): the dashboard of a box set up without one."""
    if quota is not None and not _PLAIN_QUOTA.fullmatch(quota):
        raise UserError(f"quota {quota!r}: write a size such as 500GB or a share such as 90%")
    doc = _Document.read(path)
    # A missing key is added first under its parent: set them last to first, to read in order.
    doc.set_scalar(("storage", "quota"), quota or "null", add=quota is not None)
    doc.set_scalar(("storage", "retention", "event_days"), str(int(event_days)))
    doc.set_scalar(("storage", "retention", "continuous_days"), str(int(continuous_days)))
    _commit(path, doc.text(), {}, env)


_PLAIN_QUOTA = re.compile(r"[0-9][0-9.]*\s?[A-Za-z%]{0,3}")
_TRAILING_COMMENT = re.compile(r"(?P<gap>[ \t]+)(?P<comment>#.*)$")


# --- the document ------------------------------------------------------------------------
# Edits are made to the text, at the lines ruamel.yaml's round-trip parser reports, rather
# than by dumping the whole tree again: a dump would move the comments ruamel attaches to the
# deepest last value of a block (the comment above "notifications:" belongs to the last
# camera's last key), and could re-quote or re-wrap lines the user wrote.

_EMPTY_CAMERAS = re.compile(r"(?P<key>cameras\s*:)[ \t]*(?:\[[ \t]*\])?(?P<rest>[ \t]*(?:#.*)?)")


class _Document:
    """The config text as lines, and the round-trip tree that says where things are."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        try:
            tree, indent, offset = load_yaml_guess_indent(text)
        except MarkedYAMLError as exc:
            raise ConfigError([yaml_error_issue(exc, str(path))]) from None
        if tree is None:
            tree = CommentedMap()
        if not isinstance(tree, CommentedMap):
            issue = ConfigIssue(str(path), 1, "", "the top level must be a mapping")
            raise ConfigError([issue])
        self.tree = tree
        if offset is None:
            # No block list to copy: indent "- " under its key, as config/nvr.example.yaml.
            self.offset, self.mapping_indent = 2, max(2, indent or 2)
        else:
            self.offset, self.mapping_indent = offset, max(2, (indent or 2) - offset)
        cameras = tree.get("cameras")
        if isinstance(cameras, CommentedSeq) and cameras and cameras.fa.flow_style():
            raise UserError(
                f"{path}: 'cameras' is written as a [...] list, which cannot be edited "
                "without losing its layout",
                hint="rewrite it as a block list, one '- name: ...' item per camera",
            )
        if cameras is not None and not isinstance(cameras, CommentedSeq):
            raise ConfigError([ConfigIssue(str(path), None, "cameras", "must be a list")])
        self.cameras: CommentedSeq | None = cameras

    @classmethod
    def read(cls, path: Path) -> _Document:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            text = DEFAULT_TEXT
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read config file {path}: {exc}") from None
        return cls(path, text)

    def text(self) -> str:
        return "".join(self.lines)

    def names(self) -> list[str | None]:
        items: list[Any] = list(self.cameras or [])
        return [item.get("name") if isinstance(item, Mapping) else None for item in items]

    def _is_content(self, index: int) -> bool:
        stripped = self.lines[index].strip()
        return bool(stripped) and not stripped.startswith("#")

    def _item_span(self, index: int) -> tuple[int, int]:
        """0-based first and last line of camera ``index``, without the comments after it."""
        assert self.cameras is not None
        first = self.cameras.lc.item(index)[0]
        if index + 1 < len(self.cameras):
            boundary = self.cameras.lc.item(index + 1)[0]
        else:
            keys = list(self.tree)
            after = keys[keys.index("cameras") + 1 :]
            boundary = self.tree.lc.key(after[0])[0] if after else len(self.lines)
        last = boundary - 1
        while last > first and not self._is_content(last):
            last -= 1
        return first, last

    def append(self, item: CommentedMap) -> None:
        if self.cameras:
            first, last = self._item_span(len(self.cameras) - 1)
            line = self.lines[first]
            dash = len(line) - len(line.lstrip(" "))
            body = self.cameras.lc.item(len(self.cameras) - 1)[1]
            self.lines[last + 1 : last + 1] = self._render(item, dash, body)
            return
        dash = self.offset
        rendered = self._render(item, dash, dash + self.mapping_indent)
        if self.cameras is None and "cameras" not in self.tree:
            if self.lines and self.lines[-1].strip():
                self.lines.append("\n")
            self.lines += ["cameras:\n", *rendered]
            return
        key_line = self.tree.lc.key("cameras")[0]
        match = _EMPTY_CAMERAS.fullmatch(self.lines[key_line].strip())
        if match is None:
            raise UserError(f"{self.path}:{key_line + 1}: cannot add a camera to this 'cameras:'")
        self.lines[key_line] = f"{match['key']}{match['rest']}\n"  # a top-level key: column 0
        self.lines[key_line + 1 : key_line + 1] = rendered

    def replace(self, index: int, item: CommentedMap) -> None:
        assert self.cameras is not None
        first, last = self._item_span(index)
        line = self.lines[first]
        dash = len(line) - len(line.lstrip(" "))
        body = self.cameras.lc.item(index)[1]
        self.lines[first : last + 1] = self._render(item, dash, body)

    def delete(self, index: int) -> None:
        assert self.cameras is not None
        first, last = self._item_span(index)
        del self.lines[first : last + 1]
        if len(self.cameras) == 1:
            # No camera left: "cameras:" alone would mean null, which is not a list.
            key_line = self.tree.lc.key("cameras")[0]
            key, colon, rest = self.lines[key_line].partition(":")
            self.lines[key_line] = f"{key}{colon} []{rest.rstrip()}\n".replace("[] \n", "[]\n")

    def set_scalar(self, keys: tuple[str, ...], text: str, *, add: bool = True) -> None:
        """Write ``text`` (a plain YAML scalar) as the value at ``keys`` (block mappings).
        An existing value is replaced on its line; a missing key (and missing sections on
        the way) is added right under its parent key, unless ``add`` is false."""
        node: Any = self.tree
        line, col = -1, -self.mapping_indent  # the root "key" sits before the first line
        for depth, key in enumerate(keys):
            if node is not None and not isinstance(node, CommentedMap):
                where = ".".join(keys[:depth])
                raise UserError(f"{self.path}: '{where}' is not a section of keys")
            if isinstance(node, CommentedMap) and node.fa.flow_style():
                where = ".".join(keys[:depth])
                raise UserError(
                    f"{self.path}: '{where}' is written as {{...}}, which cannot be edited "
                    "without losing its layout",
                    hint="rewrite it as a block, one 'key: value' per line",
                )
            if node is None or key not in node:
                if add:
                    self._insert(node, keys[depth:], text, line, col)
                return
            if depth == len(keys) - 1:
                self._replace(node, key, text)
                return
            line, col = node.lc.key(key)
            node = node[key]

    def _insert(self, node: Any, keys: tuple[str, ...], text: str, line: int, col: int) -> None:
        if isinstance(node, CommentedMap) and len(node):
            base = node.lc.key(next(iter(node)))[1]
        else:
            base = col + self.mapping_indent
        new = [
            " " * (base + i * self.mapping_indent)
            + (f"{key}: {text}\n" if i == len(keys) - 1 else f"{key}:\n")
            for i, key in enumerate(keys)
        ]
        if line < 0:  # a new top-level section at the end of the file
            if self.lines and self.lines[-1].strip():
                self.lines.append("\n")
            self.lines += new
        else:
            self.lines[line + 1 : line + 1] = new
        self.__init__(self.path, self.text())  # type: ignore[misc]  # positions moved

    def _replace(self, node: CommentedMap, key: str, text: str) -> None:
        if isinstance(node[key], CommentedMap | CommentedSeq):
            raise UserError(f"{self.path}: '{key}' holds a section, not a value")
        line, col = node.lc.value(key)
        key_line = node.lc.key(key)[0]
        if line != key_line:
            raise UserError(f"{self.path}:{key_line + 1}: write '{key}' on one line to edit it")
        old = self.lines[line]
        comment = _TRAILING_COMMENT.search(old[col:])
        tail = f"{comment['gap']}{comment['comment']}" if comment else ""
        self.lines[line] = f"{old[:col]}{text}{tail}\n"

    def _render(self, item: CommentedMap, dash: int, body: int) -> list[str]:
        yaml = YAML(typ="rt")
        yaml.width = 4096
        yaml.indent(mapping=self.mapping_indent, sequence=self.mapping_indent, offset=0)
        out = io.StringIO()
        yaml.dump(item, out)
        lines = out.getvalue().splitlines(keepends=True)
        gap = max(1, body - dash - 1)
        return [" " * dash + "-" + " " * gap + lines[0]] + [
            " " * body + line if line.strip() else line for line in lines[1:]
        ]


def _to_yaml(value: Any) -> Any:
    if isinstance(value, SecretRef):
        return TaggedScalar(value.name, tag="!secret")
    if isinstance(value, FlowList):
        seq = CommentedSeq([_to_yaml(item) for item in value])
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, Mapping):
        node = CommentedMap()
        for key, item in value.items():
            if item is not None:
                node[key] = _to_yaml(item)
        return node
    if isinstance(value, list | tuple):
        return CommentedSeq([_to_yaml(item) for item in value])
    return value


# --- validating and writing --------------------------------------------------------------


def _commit(
    path: Path, text: str, secrets: Mapping[str, str], env: Mapping[str, str] | None
) -> None:
    target = path.resolve() if path.exists() else path.absolute()
    secrets_file = secrets_path(path, env)
    staged: Path | None = None
    try:
        if secrets:
            staged = _stage(secrets_file, _merged_secrets(secrets_file, secrets), 0o600)
        parse_config_text(text, str(path), env=env, secrets_file=staged or secrets_file)
        if staged is not None:
            _install(staged, secrets_file.resolve() if secrets_file.exists() else secrets_file)
            staged = None
        _install(_stage(target, text, _mode(target, 0o644)), target)
    finally:
        if staged is not None:
            staged.unlink(missing_ok=True)


def _merged_secrets(path: Path, secrets: Mapping[str, str]) -> str:
    try:
        read_secrets(path)  # refuses a file others may read, or one that is not a mapping
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        text = "# Passwords for nvr.yaml's !secret tags. Keep private: chmod 600.\n"
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.preserve_quotes = True
    tree = yaml.load(text)
    if tree is None:
        tree = yaml.load(text + "{}\n")
    for name, value in secrets.items():
        tree[name] = value
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def _mode(path: Path, default: int) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return default


def _stage(target: Path, text: str, mode: int) -> Path:
    """Write ``text`` to a new private temp file beside ``target``; fsync; set ``mode``."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UserError(f"cannot write in {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), mode)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _install(staged: Path, target: Path) -> None:
    try:
        staged.replace(target)
        dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise UserError(f"cannot replace {target}: {exc.strerror}") from None
