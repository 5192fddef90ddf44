"""Signed notes and checkpoints: the byte format, and each forgery refused for its reason."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from nvr.audit.note import (
    Checkpoint,
    NoteError,
    Signer,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_vkey,
    sign_checkpoint,
    sign_note,
)

ORIGIN = "porchlight.example/audit"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNER = Signer(ORIGIN, KEY)
OTHER = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33))))
ROOT = hashlib.sha256(b"root").digest()


def raw_public() -> bytes:
    return KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_key_id_and_vkey_by_hand() -> None:
    expected_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw_public()).digest()[:4]
    verifier = SIGNER.verifier()
    assert verifier.key_id == expected_id
    b64 = base64.b64encode(b"\x01" + raw_public()).decode()
    assert verifier.vkey() == f"{ORIGIN}+{expected_id.hex()}+{b64}"
    assert parse_vkey(verifier.vkey()).key_id == expected_id


def test_the_note_format_by_hand() -> None:
    text = "hello\nworld\n"
    note = sign_note(text, SIGNER)
    sig = KEY.sign(text.encode())
    blob = base64.b64encode(SIGNER.verifier().key_id + sig).decode()
    assert note == f"hello\nworld\n\n\u2014 {ORIGIN} {blob}\n"
    assert open_note(note, [SIGNER.verifier()]) == text


def test_unknown_signatures_are_ignored_but_one_known_is_needed() -> None:
    note = sign_note("text\n", SIGNER)
    foreign = sign_note("text\n", Signer("someone.else", OTHER.private_key))
    both = note + foreign.split("\n\n", 1)[1]
    assert open_note(both, [SIGNER.verifier()]) == "text\n"
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(foreign, [SIGNER.verifier()])
    # Same name, different key: a different key ID, so also unknown.
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(sign_note("text\n", OTHER), [SIGNER.verifier()])


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda n: n.replace("text", "test", 1), "does not verify"),
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n[:-1], "does not end in a newline"),
        (lambda n: n.replace("\u2014", "-"), "does not start with"),
        (lambda n: n.replace(f"{ORIGIN} ", f"{ORIGIN}  "), "is not '\u2014 <name> <base64>'"),
        (lambda n: n[:-3] + "!!\n", "invalid base64"),
        (lambda n: "te\x07xt\n" + n[5:], "control character"),
        (lambda n: n.replace("text\n", "text"), "no blank line"),
    ],
)
def test_mangled_notes_fail_for_their_reason(mangle: object, reason: str) -> None:
    note = sign_note("text\n", SIGNER)
    assert callable(mangle)
    with pytest.raises(NoteError, match=reason):
        open_note(mangle(note), [SIGNER.verifier()])


def test_a_truncated_signature_by_the_known_key_is_an_error() -> None:
    kid = base64.b64encode(SIGNER.verifier().key_id + b"\x00" * 10).decode()
    with pytest.raises(NoteError, match="wrong length"):
        open_note(f"text\n\n\u2014 {ORIGIN} {kid}\n", [SIGNER.verifier()])


@pytest.mark.parametrize(
    ("vkey", "reason"),
    [
        ("a+b", "must be <name>"),
        ("a b+00000000+AQ==", "without spaces"),
        ("name+0000000g+AQ==", "8 lower-case hex"),
        ("name+00000000+AQ==", "not an Ed25519 key"),
        ("name+00000000+@@@", "invalid base64"),
    ],
)
def test_bad_vkeys(vkey: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        parse_vkey(vkey)


def test_a_vkey_whose_id_does_not_match() -> None:
    good = SIGNER.verifier().vkey()
    name, _, key = good.split("+", 2)
    with pytest.raises(NoteError, match="does not match"):
        parse_vkey(f"{name}+00000000+{key}")


def test_checkpoint_body_by_hand_and_round_trip() -> None:
    cp = Checkpoint(ORIGIN, 42, ROOT, ("ext one",))
    b64 = base64.b64encode(ROOT).decode()
    assert cp.body() == f"{ORIGIN}\n42\n{b64}\next one\n"
    note = sign_checkpoint(cp, SIGNER)
    assert open_checkpoint(note, ORIGIN, [SIGNER.verifier()]) == cp


def test_checkpoint_from_another_log_is_refused() -> None:
    other = Signer("elsewhere", KEY)
    note = sign_checkpoint(Checkpoint("elsewhere", 1, ROOT), other)
    with pytest.raises(NoteError, match="origin 'elsewhere' is not"):
        open_checkpoint(note, ORIGIN, [other.verifier()])


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("o\n1\n", "needs an origin"),
        ("o\n01\nAA==\n", "not a decimal"),
        ("o\n-1\nAA==\n", "not a decimal"),
        ("o\n1\nAA==\n", "not 32 bytes"),
        ("\n1\nAA==\n", "origin is empty"),
        (f"o\n1\n{base64.b64encode(ROOT).decode()}\n\n", "empty extension"),
        (f"o\n1\n{base64.b64encode(ROOT).decode()}", "does not end in a newline"),
    ],
)
def test_bad_checkpoint_texts(text: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        parse_checkpoint(text)


def test_checkpoint_body_refuses_bad_values() -> None:
    with pytest.raises(NoteError, match="32-byte root"):
        Checkpoint(ORIGIN, 1, b"short").body()
    with pytest.raises(NoteError, match="one non-empty line"):
        Checkpoint("", 1, ROOT).body()
    with pytest.raises(NoteError, match="extension"):
        Checkpoint(ORIGIN, 1, ROOT, ("",)).body()
