"""YAML to plain data: line numbers, ${VAR} substitution and !secret tags."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nvr.config import ConfigError
from nvr.config.secretsfile import SecretsFile
from nvr.config.source import Source, read_source, substitute_env

WriteFile = Callable[..., Path]


def _read(text: str, env: dict[str, str] | None = None, secrets: Path | None = None) -> Source:
    secrets_file = SecretsFile(secrets or Path("/nonexistent/secrets.yaml"))
    return read_source(text, "nvr.yaml", env=env or {}, secrets=secrets_file)


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("plain", "plain"),
        ("${A}", "alpha"),
        ("x-${A}-${B_2}-y", "x-alpha-beta-y"),
        ("$${A}", "${A}"),
        ("cost: $5 {x}", "cost: $5 {x}"),
        ("${EMPTY}", ""),
    ],
)
def test_substitute_env(text: str, result: str) -> None:
    assert substitute_env(text, {"A": "alpha", "B_2": "beta", "EMPTY": ""}) == (result, [])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("${MISSING}", "environment variable MISSING is not set"),
        ("abc${A", "'${' without a closing '}'"),
        ("${A B}", "'${...}' must hold an environment variable name"),
        ("${}", "'${...}' must hold an environment variable name"),
    ],
)
def test_substitute_env_problems(text: str, problem: str) -> None:
    result, problems = substitute_env(text, {"A": "alpha"})
    assert result == text
    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_lines_of_keys_and_items() -> None:
    source = _read(
        "server:\n"
        "  port: 1\n"
        "cameras:\n"
        "  - name: a\n"
        "    motion:\n"
        "      zones:\n"
        "        - points: [[0, 0], [1, 0],\n"
        "                   [1, 1]]\n"
    )
    assert source.lines[("server",)] == 1
    assert source.lines[("server", "port")] == 2
    assert source.lines[("cameras", 0)] == 4
    assert source.lines[("cameras", 0, "name")] == 4
    zone = ("cameras", 0, "motion", "zones", 0)
    assert source.lines[(*zone, "points")] == 7
    assert source.lines[(*zone, "points", 2)] == 8
    assert source.data["cameras"][0]["motion"]["zones"][0]["points"][2] == [1, 1]


def test_scalars_become_plain_python_values() -> None:
    source = _read("a: 1\nb: 1.5\nc: true\nd: yes\ne: ~\nf: 'q'\ng: !!str 12\nh: |\n  block\n")
    assert source.data == {
        "a": 1,
        "b": 1.5,
        "c": True,
        "d": "yes",
        "e": None,
        "f": "q",
        "g": "12",
        "h": "block\n",
    }
    assert [type(v) for v in source.data.values()] == [int, float, bool, str, type(None)] + [
        str
    ] * 3


def test_env_substitution_and_missing_variable_line() -> None:
    source = _read("a:\n  b: ${HOME_DIR}/x\n  c: ${NOPE}\n", env={"HOME_DIR": "/h"})
    assert source.data["a"]["b"] == "/h/x"
    (issue,) = source.issues
    assert str(issue) == "nvr.yaml:3: a.c: environment variable NOPE is not set"
    assert source.failed == {("a", "c")}


def test_keys_are_not_substituted() -> None:
    assert _read("${A}: 1\n", env={"A": "x"}).data == {"${A}": 1}


def test_secret_tag(write: WriteFile) -> None:
    secrets = write("secrets.yaml", "pw: hunter2\n", 0o600)
    source = _read("a:\n  - !secret pw\n  - x\n", secrets=secrets)
    assert source.data == {"a": ["hunter2", "x"]}
    assert source.hidden == {("a", 0)}
    assert source.issues == []


def test_secret_values_are_taken_literally(write: WriteFile) -> None:
    secrets = write("secrets.yaml", "pw: 'a${B}c'\n", 0o600)
    assert _read("a: !secret pw\n", secrets=secrets).data == {"a": "a${B}c"}


def test_unknown_secret_names_the_line(write: WriteFile) -> None:
    secrets = write("secrets.yaml", "pw: hunter2\n", 0o600)
    source = _read("a: 1\nb: !secret nope\n", secrets=secrets)
    (issue,) = source.issues
    assert str(issue) == f"nvr.yaml:2: b: !secret nope: no such entry in {secrets}"


def test_missing_secrets_file_is_reported_where_it_is_needed(tmp_path: Path) -> None:
    source = _read("a: !secret x\nb: !secret y\n", secrets=tmp_path / "secrets.yaml")
    assert [str(issue) for issue in source.issues] == [
        f"nvr.yaml:1: a: !secret x: the secrets file {tmp_path}/secrets.yaml does not exist",
        f"nvr.yaml:2: b: !secret y: the secrets file {tmp_path}/secrets.yaml does not exist",
    ]


def test_bad_secrets_file_is_reported_once(write: WriteFile) -> None:
    secrets = write("secrets.yaml", "pw: hunter2\n", 0o644)
    source = _read("a: !secret pw\nb: !secret pw\n", secrets=secrets)
    (issue,) = source.issues
    assert issue.file == str(secrets)
    assert source.failed == {("a",), ("b",)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !env X\n", "nvr.yaml:1: a: unknown tag !env; only !secret is supported"),
        ("a: !secret\n", "nvr.yaml:1: a: !secret needs a name made of letters"),
        ("a: !secret 'two words'\n", "nvr.yaml:1: a: !secret needs a name made of letters"),
        ("a:\n  - !thing {x: 1}\n", "nvr.yaml:2: a[0]: unknown tag !thing"),
    ],
)
def test_tag_problems(text: str, message: str) -> None:
    (issue,) = _read(text).issues
    assert str(issue).startswith(message)


def test_empty_document_is_an_empty_mapping() -> None:
    assert _read("").data == {}
    assert _read("# only a comment\n").data == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "nvr.yaml:1: the top level must be a mapping"),
        ("just text\n", "nvr.yaml:1: the top level must be a mapping"),
        ("a: [1\n", "nvr.yaml:2: expected ',' or ']'"),
        ("a: 1\na: 2\n", "nvr.yaml:2: duplicate key 'a'"),
        ("a: !!int abc\n", "nvr.yaml: invalid YAML value"),
        (
            "a: 1\n---\nb: 2\n",
            "nvr.yaml:2: expected a single document in the stream, but found another",
        ),
    ],
)
def test_documents_that_cannot_be_read(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _read(text)
    assert str(info.value).startswith(message)


def test_reused_anchor_is_fine() -> None:
    assert _read("x: &a 1\ny: &a 2\nz: *a\n").data == {"x": 1, "y": 2, "z": 2}
