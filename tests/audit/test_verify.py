"""``verify_records`` on rows built in memory: every byte of every entry, every kind of
damage, each named at the right place for the right reason."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nvr.audit.entry import Actor, Entry, encode_entry
from nvr.audit.merkle import leaf_hash, root
from nvr.audit.note import Checkpoint, Signer, sign_checkpoint
from nvr.audit.verify import CheckpointRecord, EntryRecord, VerifyResult, verify_records

ORIGIN = "porchlight.test/audit"
SIGNER = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
START = datetime(2026, 5, 1, tzinfo=UTC)


def build(n: int, sizes: list[int]) -> tuple[list[EntryRecord], list[CheckpointRecord]]:
    entries = []
    for seq in range(n):
        when = START + timedelta(seconds=seq)
        data = encode_entry(Entry(seq, when, Actor("viewer", "bo"), "footage.view", {"i": seq}))
        entries.append(EntryRecord(seq, when, "footage.view", data.decode(), leaf_hash(data).hex()))
    leaves = [bytes.fromhex(e.leaf_hash) for e in entries]
    checkpoints = []
    for number, size in enumerate(sizes, start=1):
        r = root(leaves[:size])
        note = sign_checkpoint(Checkpoint(ORIGIN, size, r), SIGNER)
        checkpoints.append(CheckpointRecord(number, size, r.hex(), note))
    return entries, checkpoints


def check(entries: list[EntryRecord], checkpoints: list[CheckpointRecord]) -> VerifyResult:
    return verify_records(entries, checkpoints, ORIGIN, SIGNER.verifier())


def test_clean_logs_of_every_shape_verify() -> None:
    assert check([], []).ok
    assert check(*build(0, [0])).ok
    for n in range(1, 9):
        for sizes in ([n], [1, n], [0, n // 2, n], list(range(n + 1))):
            result = check(*build(n, sorted(set(sizes))))
            assert result.ok, (n, sizes, result)
            assert result.entries == n


@pytest.mark.parametrize("seq", [0, 3, 5])
def test_altering_any_byte_of_an_entry_names_that_entry(seq: int) -> None:
    entries, checkpoints = build(6, [3, 6])
    original = entries[seq].entry_json
    for position, char in enumerate(original):
        for replacement in {"0" if char != "0" else "1", " ", "\u00e8", ""}:
            changed = original[:position] + replacement + original[position + 1 :]
            altered = list(entries)
            altered[seq] = dataclasses.replace(entries[seq], entry_json=changed)
            result = check(altered, checkpoints)
            assert (result.ok, result.bad_seq) == (False, seq), (position, result)


def test_cached_columns_are_checked_against_the_json() -> None:
    entries, checkpoints = build(4, [4])
    later = dataclasses.replace(entries[2], time=entries[2].time + timedelta(hours=1))
    result = check([*entries[:2], later, *entries[3:]], checkpoints)
    assert (result.bad_seq, result.reason) == (
        2,
        "entry 2: time or kind column disagrees with its JSON",
    )
    renamed = dataclasses.replace(entries[1], kind="login.success")
    assert check([entries[0], renamed, *entries[2:]], checkpoints).bad_seq == 1


def test_an_unsigned_tail_is_not_an_error() -> None:
    # Entries after the newest checkpoint are not yet vouched for: see the design caveats.
    entries, checkpoints = build(6, [2])
    assert check(entries, checkpoints).ok


def test_checkpoint_rows_may_come_in_any_order() -> None:
    # Ids are not signed; two writers may commit sizes out of order. Sizes decide.
    entries, checkpoints = build(4, [2, 4])
    assert check(entries, checkpoints[::-1]).ok
    twice = [checkpoints[0], dataclasses.replace(checkpoints[0], id=3)]
    assert check(entries, twice).ok


def test_two_roots_signed_for_one_size_are_named() -> None:
    entries, checkpoints = build(4, [2, 4])
    other = leaf_hash(b"fork")
    fork = CheckpointRecord(
        3, 4, other.hex(), sign_checkpoint(Checkpoint(ORIGIN, 4, other), SIGNER)
    )
    result = check(entries, [*checkpoints, fork])
    assert (result.ok, result.bad_checkpoint, result.bad_seq) == (False, 3, None)
    assert result.reason.startswith("checkpoint 3 signs a different root for size 4")


def test_a_checkpoint_from_a_forked_history_is_named() -> None:
    _, checkpoints = build(6, [2, 4, 6])
    forked, _ = build(6, [])
    data = encode_entry(Entry(3, START, Actor("owner", None), "share.revoke", {}))
    forked[3] = EntryRecord(3, START, "share.revoke", data.decode(), leaf_hash(data).hex())
    leaves = [bytes.fromhex(e.leaf_hash) for e in forked]
    r = root(leaves)
    fork_note = sign_checkpoint(Checkpoint(ORIGIN, 6, r), SIGNER)
    # The stored entries are the fork, the first checkpoints the original history.
    result = check(forked, [*checkpoints[:2], CheckpointRecord(3, 6, r.hex(), fork_note)])
    assert (result.bad_seq, result.bad_checkpoint) == (2, 2)
    assert result.reason.startswith("entries 2..3 do not hash to the root signed in checkpoint 2")
