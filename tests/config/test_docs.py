"""docs/config.md documents every config key, and only keys that exist."""

from __future__ import annotations

import re
from collections.abc import Iterator
from inspect import isclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from nvr.config import Config
from nvr.config.messages import type_at

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"
_ROW = re.compile(r"^\| `(?P<key>[a-z_\[\].]+)` \|", re.MULTILINE)


def _model(tp: Any) -> type[BaseModel] | None:
    """The model a field holds, directly or as the items of a list."""
    if get_origin(tp) is list:
        tp = get_args(tp)[0]
    return tp if isclass(tp) and issubclass(tp, BaseModel) else None


def config_keys(model: type[BaseModel] = Config, prefix: str = "") -> Iterator[str]:
    """Every key of the file as ``section.key``, list items as ``cameras[].name``."""
    for name in model.model_fields:
        key = prefix + name
        yield key
        tp = type_at(model, (name,))[-1]
        inner = _model(tp)
        if inner is not None:
            yield from config_keys(inner, key + ("[]." if get_origin(tp) is list else "."))


def documented_keys() -> list[str]:
    return _ROW.findall(DOC.read_text(encoding="utf-8"))


def test_walk_finds_nested_and_list_keys() -> None:
    keys = set(config_keys())
    assert {"server.tls.mode", "cameras[].motion.zones[].points", "demo.enabled"} <= keys
    assert "cameras[].onvif.password" in keys


def test_every_key_is_documented() -> None:
    missing = sorted(set(config_keys()) - set(documented_keys()))
    assert not missing, f"docs/config.md has no table row for: {', '.join(missing)}"


def test_every_documented_key_exists() -> None:
    stale = sorted(set(documented_keys()) - set(config_keys()))
    assert not stale, f"docs/config.md documents keys that do not exist: {', '.join(stale)}"


def test_each_key_is_documented_once() -> None:
    keys = documented_keys()
    assert len(keys) == len(set(keys))
