"""Checking a stored audit log: a pure function from rows to the first problem.

``verify_records`` takes the rows of ``audit_entries`` (in ``seq`` order) and
``audit_checkpoints`` (in ``id`` order) as plain values and the device's public key, and
returns a ``VerifyResult``: ``ok``, or the first bad entry (or checkpoint) and why. It
reads nothing and trusts nothing in the rows except what a signature covers; the cached
columns (``leaf_hash``, ``time``, ``kind``, ``tree_size``, ``root_hash``) are checked
against the JSON and the signed notes, never used in their place.

Entries are checked one by one; each checkpoint is checked as soon as the entries it covers
have been, so a reported entry is the earliest detectable one. A change that also rewrites
the entry's cached leaf hash can only be located to the range between two checkpoints;
the reason then names the range and ``bad_seq`` its first entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from nvr.audit.entry import EntryError, decode_entry
from nvr.audit.merkle import consistency_proof, leaf_hash, root, verify_consistency
from nvr.audit.note import Checkpoint, NoteError, Verifier, open_checkpoint


@dataclass(frozen=True)
class EntryRecord:
    """An ``audit_entries`` row as stored."""

    seq: int
    time: datetime
    kind: str
    entry_json: str
    leaf_hash: str


@dataclass(frozen=True)
class CheckpointRecord:
    """An ``audit_checkpoints`` row as stored."""

    id: int
    tree_size: int
    root_hash: str
    note_text: str


@dataclass(frozen=True)
class VerifyResult:
    """``ok``, or the first problem: ``bad_seq`` is the first entry that is (or may be, for
    a root mismatch, where the reason names the range) wrong; ``bad_checkpoint`` the id of
    the checkpoint that failed, when it was a checkpoint that did."""

    ok: bool
    entries: int
    checkpoints: int
    reason: str = ""
    bad_seq: int | None = None
    bad_checkpoint: int | None = None


class _Bad(Exception):
    def __init__(self, reason: str, seq: int | None = None, checkpoint: int | None = None):
        super().__init__(reason)
        self.reason, self.seq, self.checkpoint = reason, seq, checkpoint


def verify_records(
    entries: Sequence[EntryRecord],
    checkpoints: Sequence[CheckpointRecord],
    origin: str,
    verifier: Verifier,
) -> VerifyResult:
    """Check the stored log: entries in ``seq`` order, checkpoints in any order.

    Each entry: ``seq`` continuous from 0, canonical JSON, JSON ``seq`` equal to the row's,
    stored leaf hash, time and kind equal to what the JSON says. Each checkpoint, once the
    entries it covers are checked: signature by ``verifier``, origin, row equal to the note,
    root equal to the recomputed tree, consistent with the next smaller checkpoint. Row ids
    are not signed and carry no order: checkpoints are taken by tree size, so two writers
    committing in either order is not an alarm.
    """
    try:
        leaves: list[bytes] = []
        pending = sorted(checkpoints, key=lambda c: (c.tree_size, c.id))
        previous: Checkpoint | None = None
        for expected, record in enumerate(entries):
            while pending and pending[0].tree_size == expected:
                previous = _check_checkpoint(pending.pop(0), leaves, previous, origin, verifier)
            leaves.append(_check_entry(record, expected))
        while pending and pending[0].tree_size == len(leaves):
            previous = _check_checkpoint(pending.pop(0), leaves, previous, origin, verifier)
        if pending:
            n, cp = len(leaves), pending[0]
            raise _Bad(
                f"entries from seq {n} are missing: checkpoint {cp.id} covers {cp.tree_size}",
                seq=n,
                checkpoint=cp.id,
            )
    except _Bad as bad:
        return VerifyResult(
            ok=False,
            entries=len(entries),
            checkpoints=len(checkpoints),
            reason=bad.reason,
            bad_seq=bad.seq,
            bad_checkpoint=bad.checkpoint,
        )
    return VerifyResult(ok=True, entries=len(entries), checkpoints=len(checkpoints))


def _check_entry(record: EntryRecord, expected: int) -> bytes:
    seq = expected
    if record.seq != expected:
        raise _Bad(f"entry {seq} is missing (the next stored entry is {record.seq})", seq=seq)
    data = stored_bytes(record.entry_json)
    if data is None:
        raise _Bad(f"entry {seq}: entry_json is not text", seq=seq)
    try:
        entry = decode_entry(data)
    except EntryError as e:
        raise _Bad(f"entry {seq}: {e}", seq=seq) from None
    if entry.seq != seq:
        raise _Bad(f"entry {seq}: its JSON says seq {entry.seq} (moved or reordered)", seq=seq)
    leaf = leaf_hash(data)
    if record.leaf_hash != leaf.hex():
        raise _Bad(f"entry {seq}: stored leaf hash does not match its JSON (altered)", seq=seq)
    if record.kind != entry.kind or record.time != entry.time:
        raise _Bad(f"entry {seq}: time or kind column disagrees with its JSON", seq=seq)
    return leaf


def stored_bytes(entry_json: object) -> bytes | None:
    """The bytes that were hashed, or None when the column holds something other than text
    (SQLite lets a writer store a BLOB in any column). ``surrogatepass`` turns a string that
    is not valid Unicode into bytes that fail as "not UTF-8" rather than crash here."""
    if not isinstance(entry_json, str):
        return None
    return entry_json.encode("utf-8", errors="surrogatepass")


def _check_checkpoint(
    record: CheckpointRecord,
    leaves: Sequence[bytes],
    previous: Checkpoint | None,
    origin: str,
    verifier: Verifier,
) -> Checkpoint:
    try:
        checkpoint = open_checkpoint(record.note_text, origin, [verifier])
    except NoteError as e:
        raise _Bad(f"checkpoint {record.id}: {e}", checkpoint=record.id) from None
    if checkpoint.size != record.tree_size or checkpoint.root_hash.hex() != record.root_hash:
        raise _Bad(
            f"checkpoint {record.id}: size or root column disagrees with its signed note",
            checkpoint=record.id,
        )
    if previous is not None and previous.size == checkpoint.size:
        if previous.root_hash != checkpoint.root_hash:
            raise _Bad(
                f"checkpoint {record.id} signs a different root for size {checkpoint.size} "
                "than an earlier checkpoint: the key signed two histories",
                checkpoint=record.id,
            )
        return checkpoint
    start = previous.size if previous is not None else 0
    if root(leaves) != checkpoint.root_hash:
        raise _Bad(
            f"entries {start}..{checkpoint.size - 1} do not hash to the root signed in "
            f"checkpoint {record.id}: one of them was changed, added or removed",
            seq=start,
            checkpoint=record.id,
        )
    if previous is not None and not verify_consistency(
        previous.size,
        checkpoint.size,
        previous.root_hash,
        checkpoint.root_hash,
        consistency_proof(previous.size, leaves),
    ):
        raise _Bad(
            f"checkpoint {record.id} is not consistent with the one before it",
            seq=start,
            checkpoint=record.id,
        )
    return checkpoint
