"""Canonical entries: one byte form, and every other spelling refused with its reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from nvr.audit.entry import Actor, Entry, EntryError, decode_entry, encode_entry

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)


def entry(**changes: object) -> Entry:
    fields: dict[str, object] = {
        "seq": 7,
        "time": WHEN,
        "actor": Actor(role="owner", user="ana"),
        "kind": "share.create",
        "payload": {"b": [1, "é", None, True], "a": {"z": 0, "y": "x"}},
    }
    fields.update(changes)
    return Entry(**fields)  # type: ignore[arg-type]


CANONICAL = (
    '{"actor":{"role":"owner","user":"ana"},"kind":"share.create",'
    '"payload":{"a":{"y":"x","z":0},"b":[1,"é",null,true]},"seq":7,'
    '"time":"2026-03-04T05:06:07.000890Z"}'
).encode()


def test_the_canonical_form_by_hand() -> None:
    assert encode_entry(entry()) == CANONICAL


def test_round_trip() -> None:
    assert decode_entry(CANONICAL) == entry()


def test_time_is_normalised_to_utc() -> None:
    plus2 = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert encode_entry(entry(time=plus2)) == CANONICAL


def test_a_system_actor_has_a_null_user() -> None:
    data = encode_entry(entry(actor=Actor(role="system", user=None)))
    assert b'"actor":{"role":"system","user":null}' in data
    assert decode_entry(data).actor == Actor(role="system", user=None)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"seq": -1}, "seq must be"),
        ({"seq": True}, "seq must be"),
        ({"seq": 2**53}, "seq must be"),
        ({"kind": "Share"}, "kind must be"),
        ({"kind": ""}, "kind must be"),
        ({"actor": Actor(role="", user=None)}, "role must be"),
        ({"payload": {"x": 1.5}}, "floats are not allowed"),
        ({"payload": {"x": float("nan")}}, "floats are not allowed"),
        ({"payload": {"x": 2**60}}, "outside"),
        ({"payload": {"x": "\ud800"}}, "lone surrogate"),
        ({"payload": {1: "x"}}, "not a string"),
        ({"payload": {"x": b"bytes"}}, "bytes is not a JSON value"),
        ({"payload": ["not", "an", "object"]}, "payload must be a JSON object"),
        ({"time": datetime(2026, 1, 1)}, "naive datetime"),
    ],
)
def test_encode_refuses_bad_entries(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(EntryError, match=reason):
        encode_entry(entry(**changes))


def spelled(old: str, new: str) -> bytes:
    text = CANONICAL.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (spelled('"seq":7', '"seq": 7'), "not in canonical form"),
        (spelled('"seq":7', '"seq":07'), "not JSON"),
        (spelled('"seq":7', '"seq":7.0'), "not an integer"),
        (spelled('"seq":7', '"seq":7e0'), "not an integer"),
        (spelled('"z":0', '"z":NaN'), "not an integer"),
        (spelled('"z":0', '"z":-0'), "not in canonical form"),
        (spelled('"é"', '"\\u00e9"'), "not in canonical form"),
        (spelled('"x"', '"\\u0078"'), "not in canonical form"),
        (spelled('"a":{"y":"x","z":0}', '"a":{"z":0,"y":"x"}'), "not in canonical form"),
        (spelled('"seq":7,', '"seq":7,"seq":7,'), "duplicate key 'seq'"),
        (spelled('"seq":7,', ""), "keys must be exactly"),
        (spelled('"seq":7,', '"seq":7,"extra":1,'), "keys must be exactly"),
        (spelled('"user":"ana"', '"user":"ana","x":1'), "actor must be"),
        (spelled(".000890Z", "Z"), "not RFC 3339"),
        (spelled(".000890Z", ".000890+00:00"), "not RFC 3339"),
        (spelled("05:06:07", "25:06:07"), "time '2026-03-04T25"),
        (spelled('"seq":7', '"seq":"7"'), "seq must be"),
        (
            spelled('"payload":{"a":{"y":"x","z":0},"b":[1,"é",null,true]}', '"payload":[]'),
            "payload must be",
        ),
        (CANONICAL + b"\n", "not in canonical form"),
        (b" " + CANONICAL, "not in canonical form"),
        (CANONICAL.replace("é".encode(), b"\xe9"), "not UTF-8"),
        (b"[]", "not a JSON object"),
    ],
)
def test_decode_refuses_every_other_spelling(data: bytes, reason: str) -> None:
    with pytest.raises(EntryError, match=reason):
        decode_entry(data)
