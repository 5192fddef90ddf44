"""The CLI's shared rules: --help everywhere, one-line errors with exit 1, docs complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from nvr import __version__
from nvr.cli import app, main

ROOT = Path(__file__).resolve().parents[2]


def command_paths() -> list[tuple[str, ...]]:
    """Every command and group of the ``nvr`` tree, as argv prefixes."""
    found: list[tuple[str, ...]] = []

    def walk(cmd: object, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


def test_tree_has_the_foundation_commands() -> None:
    paths = {" ".join(p) for p in command_paths()}
    for expected in (
        "serve",
        "demo",
        "config check",
        "config schema",
        "db upgrade",
        "db downgrade",
        "db current",
    ):
        assert expected in paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "nvr")
def test_every_command_has_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out
    assert "--help" in out


def test_commands_with_a_data_dir_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    for path in (("serve",), ("demo",), ("db", "upgrade"), ("db", "current"), ("db", "downgrade")):
        main([*path, "--help"])
        assert "--data-dir" in capsys.readouterr().out, path


def test_every_command_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    missing = [" ".join(p) for p in command_paths() if p and f"nvr {' '.join(p)}" not in doc]
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_unknown_command_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == "nvr: error: No such command 'frobnicate'."
    assert err[1] == "nvr: hint: see 'nvr --help'"
    assert len(err) == 2


def test_bad_option_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "notaport"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("nvr: error: ")


def test_version_and_python_dash_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nvr", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == f"nvr {__version__}"
