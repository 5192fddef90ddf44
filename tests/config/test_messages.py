"""Pydantic errors in plain words, on the right line, never echoing a secret."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from nvr.config import CameraConfig, Config, OnvifConfig
from nvr.config.errors import ConfigIssue, Loc
from nvr.config.messages import explain_errors, type_at
from nvr.secrets import Secret


def _explain(
    data: Any,
    lines: dict[Loc, int] | None = None,
    hidden: tuple[Loc, ...] = (),
    skip: tuple[Loc, ...] = (),
) -> list[ConfigIssue]:
    with pytest.raises(ValidationError) as info:
        Config.model_validate(data)
    return explain_errors(
        info.value.errors(), Config, file="nvr.yaml", lines=lines or {}, hidden=hidden, skip=skip
    )


def test_type_at_follows_models_lists_and_optionals() -> None:
    assert type_at(Config, ("cameras", 0)) == [Config, list[CameraConfig], CameraConfig]
    assert type_at(Config, ("cameras", 0, "onvif", "password"))[-2:] == [OnvifConfig, Secret]
    assert type_at(Config, ("nope", "deeper")) == [Config]


def test_line_is_the_key_or_the_nearest_parent_with_one() -> None:
    lines: dict[Loc, int] = {(): 1, ("cameras",): 5, ("cameras", 0): 6, ("cameras", 0, "x"): 8}
    issues = _explain({"cameras": [{"x": 1}]}, lines)
    assert [(i.line, i.path) for i in issues] == [
        (6, "cameras[0].name"),  # missing: no line of its own, so the item's
        (8, "cameras[0].x"),
    ]
    assert issues[0].message == "required key is missing"
    assert issues[1].message == "unknown key"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"server": {"port": "abc"}}, "expected an integer, got 'abc'"),
        ({"server": {"port": 1.5}}, "expected an integer, got 1.5"),
        ({"cameras": [None]}, "expected a mapping (key: value lines), got nothing"),
        ({"server": {"bind": 127}}, "expected a string, got 127 (put it in quotes)"),
        ({"server": {"tls": []}}, "expected a mapping (key: value lines), got a list"),
        ({"storage": {"fsync_interval_seconds": "x"}}, "expected a number, got 'x'"),
        ({"cameras": {"name": "x"}}, "expected a list, got a mapping"),
        ({"logging": {"format": "xml"}}, "'xml' is not one of text, json"),
        ({"servr": {}}, "unknown key (did you mean 'server'?)"),
        ({"zzz": {}}, "unknown key"),
    ],
)
def test_messages(data: dict[str, Any], message: str) -> None:
    (issue,) = _explain(data)
    assert issue.message == message


def test_secret_fields_never_echo_their_value() -> None:
    camera = {"name": "x", "onvif": {"host": "h", "password": 98765}}
    (issue,) = _explain({"cameras": [camera]})
    assert issue.message == "expected a string (put it in quotes)"
    assert "98765" not in str(issue)


def test_hidden_values_are_not_echoed() -> None:
    (issue,) = _explain({"server": {"port": "hunter2"}}, hidden=(("server", "port"),))
    assert issue.message == "expected an integer"
    (issue,) = _explain({"logging": {"level": "hunter2"}}, hidden=(("logging",),))
    assert issue.message == "must be one of debug, info, warning, error"


def test_echoed_values_are_scrubbed() -> None:
    (issue,) = _explain({"logging": {"level": "rtsp://u:hunter2@cam/"}})
    assert "hunter2" not in issue.message


def test_skipped_paths_are_dropped() -> None:
    data = {"server": {"port": "${PORT}", "bind": 1}}
    issues = _explain(data, skip=(("server", "port"),))
    assert [i.path for i in issues] == ["server.bind"]
