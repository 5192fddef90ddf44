"""CLI transcript helpers: run ``nvr`` in-process and capture what a user would see."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nvr.cli import main

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def nvr(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def secret_file(tmp_path: Path) -> Callable[[str, str], Path]:
    def make(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text + "\n")
        path.chmod(0o600)
        return path

    return make
