"""Pydantic validation errors in plain words, placed on the YAML line they are about.

Contract: ``explain_errors`` turns ``ValidationError.errors()`` into ``ConfigIssue``s. Each
error's location is mapped to the line of that key or list item (else the nearest parent
that has a line). Input values are echoed only for ordinary fields: never for a field that
holds a secret or a URL, nor for a value that came from the secrets file or the environment
(``hidden``), and always passed through ``scrub``. Pure functions: no I/O.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping, Sequence
from inspect import isclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from nvr.config.errors import ConfigIssue, Loc, format_path
from nvr.secrets import Secret, scrub

__all__ = ["explain_errors", "type_at"]

_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "dict_type": "expected a mapping (key: value lines)",
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "path_type": "expected a path",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than": ("lt", "must be less than {}"),
}


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that matters."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def type_at(root: type[BaseModel], loc: Loc) -> list[Any]:
    """The unwrapped types along ``loc`` from ``root`` (shorter if ``loc`` leaves the models)."""
    found: list[Any] = [root]
    tp: Any = root
    for part in loc:
        origin = get_origin(tp)
        if isinstance(part, str) and isclass(tp) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part)
            if field is None:
                break
            tp = field.annotation
        elif isinstance(part, int) and origin is list:
            tp = get_args(tp)[0]
        elif isinstance(part, int) and origin is tuple and part < len(get_args(tp)):
            tp = get_args(tp)[part]
        else:
            break
        tp = _unwrap(tp)
        found.append(tp)
    return found


def _holds_secret(types_on_path: Iterable[Any]) -> bool:
    return any(isclass(tp) and issubclass(tp, Secret) for tp in types_on_path)


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(scrub(value))
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return scrub(str(value))


def _message(error: ErrorDetails, root: type[BaseModel], loc: Loc, echo: bool) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    got = f", got {_shown(value)}" if echo else ""
    if kind == "porchlight":
        shown = _shown(ctx["value"]) if echo and "value" in ctx else "(secret)"
        return str(ctx["message"]).replace("{value}", shown)
    if kind == "extra_forbidden":
        parent = type_at(root, loc[:-1])
        model = parent[-1] if len(parent) == len(loc) else None
        names = list(model.model_fields) if isclass(model) and issubclass(model, BaseModel) else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
        return f"unknown key (did you mean '{close[0]}'?)" if close else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        tp = type_at(root, loc)[-1]
        allowed = [str(arg) for arg in get_args(tp)] if get_origin(tp) is Literal else []
        choices = ", ".join(allowed) or str(ctx.get("expected", "")).replace("'", "")
        return f"{_shown(value)} is not one of {choices}" if echo else f"must be one of {choices}"
    if kind in _EXPECTED:
        quote = kind == "string_type" and echo and isinstance(value, int | float)
        return _EXPECTED[kind] + got + (" (put it in quotes)" if quote else "")
    if kind in _BOUNDS:
        key, text = _BOUNDS[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return text.format(bound) + got
    if kind in ("too_short", "too_long"):
        count = ctx.get("min_length" if kind == "too_short" else "max_length")
        word = "at least" if kind == "too_short" else "at most"
        items = f"{count} item{'s' if count != 1 else ''}"
        return f"needs {word} {items}, got {ctx.get('actual_length')}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return scrub(str(ctx.get("error", error["msg"])))
    return scrub(error["msg"]) + got


def explain_errors(
    errors: Sequence[ErrorDetails],
    root: type[BaseModel],
    *,
    file: str,
    lines: Mapping[Loc, int],
    hidden: Iterable[Loc] = (),
    skip: Iterable[Loc] = (),
) -> list[ConfigIssue]:
    """Issues for pydantic ``errors`` on data validated against ``root``.

    ``lines`` maps key paths to 1-based lines; ``hidden`` are paths whose values must not
    be echoed; errors at or below a path in ``skip`` are dropped (already reported).
    """
    hidden, skip = tuple(hidden), tuple(skip)
    issues = []
    for error in errors:
        loc: Loc = tuple(error["loc"])
        at = (error.get("ctx") or {}).get("at") if error["type"] == "porchlight" else None
        loc += tuple(at or ())
        if any(loc[: len(s)] == s for s in skip):
            continue
        secret = _holds_secret(type_at(root, loc)) or any(loc[: len(h)] == h for h in hidden)
        message = _message(error, root, loc, echo=not secret)
        issues.append(ConfigIssue(file, _line_of(loc, lines), format_path(loc), message))
    return issues


def _line_of(loc: Loc, lines: Mapping[Loc, int]) -> int | None:
    for end in range(len(loc), 0, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return lines.get(())
