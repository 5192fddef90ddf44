"""Fixtures for the config tests: real files in a temporary folder, a clean environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from nvr.config import Config
from nvr.config.messages import explain_errors

WriteFile = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    """Write ``text`` to ``tmp_path/name`` with ``mode`` and return the path."""

    def _write(name: str, text: str, mode: int = 0o644) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        return path

    return _write


@pytest.fixture(autouse=True)
def _no_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own NVR_CONFIG / NVR_SECRETS_FILE must not leak into a test."""
    monkeypatch.delenv("NVR_CONFIG", raising=False)
    monkeypatch.delenv("NVR_SECRETS_FILE", raising=False)


Problems = Callable[[dict[str, Any]], list[str]]


@pytest.fixture
def problems() -> Problems:
    """Validate a config given as Python data; return its problems as ``path: message``."""

    def _problems(data: dict[str, Any]) -> list[str]:
        try:
            Config.model_validate(data)
        except ValidationError as exc:
            issues = explain_errors(exc.errors(), Config, file="nvr.yaml", lines={})
            return [f"{issue.path}: {issue.message}" for issue in issues]
        return []

    return _problems
