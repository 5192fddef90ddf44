"""Issue formatting: one line per problem, the same shape everywhere."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from nvr.config import ConfigError, ConfigIssue
from nvr.config.errors import format_path, yaml_error_issue
from nvr.errors import UserError


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        ((), ""),
        (("server",), "server"),
        (("cameras", 0, "record"), "cameras[0].record"),
        (
            ("cameras", 1, "motion", "zones", 0, "points", 2, 1),
            "cameras[1].motion.zones[0].points[2][1]",
        ),
    ],
)
def test_format_path(loc: tuple[str | int, ...], text: str) -> None:
    assert format_path(loc) == text


def test_issue_text() -> None:
    assert (
        str(ConfigIssue("nvr.yaml", 14, "cameras[0].record", "'x' is not one of a, b"))
        == "nvr.yaml:14: cameras[0].record: 'x' is not one of a, b"
    )
    assert str(ConfigIssue("nvr.yaml", 3, "", "bad YAML")) == "nvr.yaml:3: bad YAML"
    assert str(ConfigIssue("s.yaml", None, "", "mode 0644")) == "s.yaml: mode 0644"


def test_config_error_is_a_user_error_listing_every_issue() -> None:
    issues = [ConfigIssue("a.yaml", 1, "x", "one"), ConfigIssue("a.yaml", 2, "y", "two")]
    error = ConfigError(issues, hint="fix it")
    assert isinstance(error, UserError)
    assert error.issues == issues
    assert error.message == "a.yaml:1: x: one\na.yaml:2: y: two"
    assert str(error) == error.message
    assert error.hint == "fix it"


def _yaml_error(text: str) -> MarkedYAMLError:
    with pytest.raises(MarkedYAMLError) as info:
        YAML(typ="rt").load(text)
    return info.value


def test_duplicate_key_does_not_quote_the_values() -> None:
    issue = yaml_error_issue(_yaml_error("a: 1\npassword: hunter2\npassword: hunter3\n"), "n.yaml")
    assert str(issue) == "n.yaml:3: duplicate key 'password' (the mapping starting on line 1)"


def test_syntax_error_names_the_line_and_the_context() -> None:
    issue = yaml_error_issue(_yaml_error("a: 1\nb: [1, 2\nc: 3\n"), "n.yaml")
    assert issue.line == 3
    assert issue.message == (
        "expected ',' or ']', but got ':' (while parsing a flow sequence started on line 2)"
    )


def test_tab_indentation_gets_a_hint() -> None:
    issue = yaml_error_issue(_yaml_error("a:\n\tb: 1\n"), "n.yaml")
    assert issue.message.endswith("indent with spaces, YAML does not allow tabs")
