"""Audit entries and their one canonical byte form.

An entry is a JSON object with exactly the keys ``actor``, ``kind``, ``payload``, ``seq``,
``time``. Its canonical form, the bytes the Merkle leaf hashes, is ``json.dumps`` with sorted
keys, separators ``(",", ":")``, ``ensure_ascii=False``, encoded as UTF-8. ``encode_entry``
produces it; ``decode_entry`` accepts only bytes that are exactly that form, so two
verifiers can never disagree about what an entry says.

Values are restricted so the form is the same in every language: no floats at all (their
decimal spelling differs between serializers; use integers of a stated unit, or strings),
integers within ±(2**53 - 1) (exact in every JSON parser), strings that are valid Unicode
(no lone surrogates), object keys that are strings, no duplicate keys.

``time`` is RFC 3339 in UTC with microseconds and a ``Z``: ``2026-01-01T12:00:00.000000Z``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]

MAX_SAFE_INT = 2**53 - 1
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
# Kinds are dotted lower-case identifiers: "share.create", "login.failure".
_KIND_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_KEYS = frozenset({"seq", "time", "actor", "kind", "payload"})
_ACTOR_KEYS = frozenset({"role", "user"})


class EntryError(ValueError):
    """An entry that is malformed, or bytes that are not an entry's canonical form."""


@dataclass(frozen=True)
class Actor:
    """Who did it: a role (``owner``, ``viewer``, ``system`` ...) and a user name, or
    ``None`` for the device itself or an unauthenticated caller."""

    role: str
    user: str | None


@dataclass(frozen=True)
class Entry:
    seq: int
    time: datetime
    actor: Actor
    kind: str
    payload: dict[str, JSONValue]


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with microseconds; refuses naive datetimes."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise EntryError(f"naive datetime {when!r}: pass an aware datetime")
    return when.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    if not _TIME_RE.fullmatch(text):
        raise EntryError(f"time {text!r} is not RFC 3339 UTC like 2026-01-01T00:00:00.000000Z")
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as e:
        raise EntryError(f"time {text!r}: {e}") from None


def encode_entry(entry: Entry) -> bytes:
    """The canonical bytes of ``entry``; raises ``EntryError`` if it breaks a rule."""
    _check_seq(entry.seq)
    _check_kind(entry.kind)
    _check_actor_values(entry.actor.role, entry.actor.user)
    if not isinstance(entry.payload, dict):
        raise EntryError("payload must be a JSON object")
    _check_value(entry.payload, "payload")
    obj = {
        "seq": entry.seq,
        "time": format_time(entry.time),
        "actor": {"role": entry.actor.role, "user": entry.actor.user},
        "kind": entry.kind,
        "payload": entry.payload,
    }
    return _canonical(obj)


def decode_entry(data: bytes) -> Entry:
    """Parse canonical entry bytes; raises ``EntryError`` saying what is wrong, including
    for a valid entry spelled any other way (spaces, key order, escapes)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EntryError(f"not UTF-8: {e.reason} at byte {e.start}") from None
    try:
        obj = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except json.JSONDecodeError as e:
        raise EntryError(f"not JSON: {e.msg} at character {e.pos}") from None
    if not isinstance(obj, dict):
        raise EntryError("not a JSON object")
    if set(obj) != _KEYS:
        raise EntryError(f"keys must be exactly {sorted(_KEYS)}, got {sorted(obj)}")
    actor = obj["actor"]
    if not isinstance(actor, dict) or set(actor) != _ACTOR_KEYS:
        raise EntryError("actor must be an object with exactly the keys role and user")
    if not isinstance(obj["time"], str):
        raise EntryError("time must be a string")
    if not isinstance(obj["kind"], str):
        raise EntryError("kind must be a string")
    if not isinstance(obj["payload"], dict):
        raise EntryError("payload must be a JSON object")
    seq = obj["seq"]
    _check_seq(seq)
    entry = Entry(
        seq=seq,
        time=parse_time(obj["time"]),
        actor=Actor(role=actor["role"], user=actor["user"]),
        kind=obj["kind"],
        payload=obj["payload"],
    )
    if encode_entry(entry) != data:
        raise EntryError("not in canonical form (key order, spacing, escapes or number form)")
    return entry


def _canonical(obj: object) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _check_seq(seq: object) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SAFE_INT:
        raise EntryError(f"seq must be an integer in 0..2**53-1, got {seq!r}")


def _check_kind(kind: object) -> None:
    if not isinstance(kind, str) or not _KIND_RE.fullmatch(kind) or len(kind) > 64:
        raise EntryError(f"kind must be a dotted lower-case name like 'share.create': {kind!r}")


def _check_actor_values(role: object, user: object) -> None:
    if not isinstance(role, str) or not role:
        raise EntryError(f"actor role must be a non-empty string, got {role!r}")
    if user is not None and not isinstance(user, str):
        raise EntryError(f"actor user must be a string or null, got {user!r}")
    _check_value(role, "actor.role")
    if user is not None:
        _check_value(user, "actor.user")


def _check_value(value: object, where: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise EntryError(f"{where}: integer {value} is outside ±(2**53-1)")
        return
    if isinstance(value, float):
        raise EntryError(f"{where}: floats are not allowed (use an integer unit or a string)")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise EntryError(f"{where}: string is not valid Unicode (lone surrogate)") from None
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EntryError(f"{where}: object key {key!r} is not a string")
            _check_value(key, f"{where} key")
            _check_value(item, f"{where}.{key}")
        return
    raise EntryError(f"{where}: {type(value).__name__} is not a JSON value")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise EntryError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> object:
    raise EntryError(f"number {text} is not an integer (floats, NaN and Infinity are refused)")
