"""The database-backed audit log: append entries, sign checkpoints, verify, prove inclusion.

``AuditLog.append`` is the one call every component makes. Entries are stored as their
canonical JSON (``audit_entries``); ``seq`` is the Merkle leaf index, from 0, without gaps.
``checkpoint`` signs the current tree head with the device key as a C2SP checkpoint
(``audit_checkpoints``) and refuses when the stored entries no longer extend the latest
checkpoint. ``verify_log`` reads the rows and hands them to the pure ``verify_records``.

One ``AuditLog`` per process: appends and checkpoints are serialized by a lock; a second
writer process (a CLI command) that races for the same ``seq`` loses on the primary key and
retries. Each public call is its own transaction; construction does no I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.entry import Actor, Entry, JSONValue, encode_entry
from nvr.audit.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
)
from nvr.audit.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    sign_checkpoint,
)
from nvr.audit.proof import InclusionProof, format_proof
from nvr.audit.verify import (
    CheckpointRecord,
    EntryRecord,
    VerifyResult,
    stored_bytes,
    verify_records,
)
from nvr.clock import Clock
from nvr.db.models import AuditCheckpoint, AuditEntry
from nvr.errors import UserError

_APPEND_ATTEMPTS = 5
_VERIFY_HINT = "run 'nvr audit verify' to find the first bad entry"


class AuditError(UserError):
    """The log cannot do what was asked: no such entry, no checkpoint, or tampering found."""


def verify_log(
    session_factory: sessionmaker[Session], origin: str, verifier: Verifier
) -> VerifyResult:
    """Read the stored log and check it (``verify_records``). Needs only the public key, so
    a copy of the database can be checked away from the device."""
    with session_factory() as session:
        entries = [
            EntryRecord(r.seq, r.time, r.kind, r.entry_json, r.leaf_hash)
            for r in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        ]
        checkpoints = [
            CheckpointRecord(c.id, c.tree_size, c.root_hash, c.note_text)
            for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id))
        ]
    return verify_records(entries, checkpoints, origin, verifier)


class AuditLog:
    """The audit log in the database behind ``session_factory``, signed by ``device_key``
    under the key name and checkpoint origin ``origin``. Construction does no I/O."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        device_key: Ed25519PrivateKey,
        origin: str,
        clock: Clock,
    ) -> None:
        self._sessions = session_factory
        self._signer = Signer(origin, device_key)
        self._origin = origin
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        """The checkpoint origin, also the device key's name in checkpoint signatures."""
        return self._origin

    @property
    def verifier(self) -> Verifier:
        """The public half, as the owner pins it (``verifier.vkey()``)."""
        return self._signer.verifier()

    def append(self, kind: str, payload: Mapping[str, JSONValue], actor: Actor) -> int:
        """Record one event; returns its ``seq``. Raises ``EntryError`` for a bad entry."""
        with self._lock:
            for attempt in range(_APPEND_ATTEMPTS):
                try:
                    return self._append_once(kind, dict(payload), actor)
                except IntegrityError:
                    # Another process took this seq first; take the next one.
                    if attempt == _APPEND_ATTEMPTS - 1:
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _append_once(self, kind: str, payload: dict[str, JSONValue], actor: Actor) -> int:
        with self._sessions.begin() as session:
            last = session.scalar(select(func.max(AuditEntry.seq)))
            seq = 0 if last is None else last + 1
            entry = Entry(seq=seq, time=self._clock.wall(), actor=actor, kind=kind, payload=payload)
            data = encode_entry(entry)
            session.add(
                AuditEntry(
                    seq=seq,
                    time=entry.time,
                    kind=kind,
                    entry_json=data.decode(),
                    leaf_hash=leaf_hash(data).hex(),
                )
            )
        return seq

    def checkpoint(self) -> str:
        """Sign the current tree head and store it; returns the checkpoint note.

        With no entry since the latest checkpoint, returns that one unchanged. Raises
        ``AuditError`` (and signs nothing) when the entries do not extend the latest stored
        checkpoint: signing then would make the device vouch for a rewritten history.
        """
        with self._lock:
            try:
                return self._checkpoint_once()
            except IntegrityError:
                # Another process signed this tree size first (the same note: Ed25519 is
                # deterministic); the retry finds its row and returns it, or signs more.
                return self._checkpoint_once()

    def _checkpoint_once(self) -> str:
        with self._sessions.begin() as session:
            leaves = self._leaves(session)
            latest = session.scalars(
                select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1)
            ).first()
            if latest is not None:
                self._check_extends(latest, leaves)
                if latest.tree_size == len(leaves):
                    return latest.note_text
            tree_root = root(leaves)
            note = sign_checkpoint(Checkpoint(self._origin, len(leaves), tree_root), self._signer)
            session.add(
                AuditCheckpoint(
                    tree_size=len(leaves),
                    root_hash=tree_root.hex(),
                    note_text=note,
                    created_at=self._clock.wall(),
                )
            )
            return note

    def _check_extends(self, latest: AuditCheckpoint, leaves: Sequence[bytes]) -> None:
        try:
            old = open_checkpoint(latest.note_text, self._origin, [self.verifier])
        except NoteError as e:
            raise AuditError(
                f"refusing to sign: latest checkpoint {latest.id} does not verify: {e}",
                hint=_VERIFY_HINT,
            ) from None
        if old.size > len(leaves) or not verify_consistency(
            old.size, len(leaves), old.root_hash, root(leaves), consistency_proof(old.size, leaves)
        ):
            raise AuditError(
                f"refusing to sign: the log does not extend checkpoint {latest.id} "
                f"(size {old.size})",
                hint=_VERIFY_HINT,
            )

    def _leaves(self, session: Session) -> list[bytes]:
        """Leaf hashes recomputed from the stored JSON; refuses a log with a gap."""
        leaves = []
        query = select(AuditEntry.seq, AuditEntry.entry_json).order_by(AuditEntry.seq)
        rows = session.execute(query)
        for expected, (seq, entry_json) in enumerate(rows):
            if seq != expected:
                raise AuditError(f"audit entry {expected} is missing", hint=_VERIFY_HINT)
            data = stored_bytes(entry_json)
            if data is None:
                raise AuditError(f"audit entry {seq} is not text", hint=_VERIFY_HINT)
            leaves.append(leaf_hash(data))
        return leaves

    def verify(self) -> VerifyResult:
        """Check the whole stored log (see ``verify_records``)."""
        return verify_log(self._sessions, self._origin, self.verifier)

    def entry(self, seq: int) -> bytes:
        """The stored canonical bytes of entry ``seq``: what a proof is checked against."""
        with self._sessions() as session:
            text = session.scalar(select(AuditEntry.entry_json).where(AuditEntry.seq == seq))
        if text is None:
            raise AuditError(f"no audit entry {seq}", hint="entries are numbered from 0")
        data = stored_bytes(text)
        if data is None:
            raise AuditError(f"audit entry {seq} is not text", hint=_VERIFY_HINT)
        return data

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> str:
        """A tlog-proof that entry ``seq`` is in the checkpoint of ``tree_size`` leaves
        (default: the latest checkpoint), with that checkpoint bundled."""
        with self._sessions() as session:
            query = select(AuditCheckpoint)
            if tree_size is None:
                query = query.order_by(AuditCheckpoint.tree_size.desc()).limit(1)
            else:
                query = query.where(AuditCheckpoint.tree_size == tree_size)
            checkpoint = session.scalars(query).first()
            if checkpoint is None:
                raise AuditError(
                    "no such checkpoint" if tree_size is not None else "no checkpoint yet",
                    hint="sign one with 'nvr audit checkpoint'",
                )
            if not 0 <= seq < checkpoint.tree_size:
                raise AuditError(
                    f"entry {seq} is not covered by the checkpoint of size {checkpoint.tree_size}",
                    hint="sign a newer checkpoint with 'nvr audit checkpoint'",
                )
            leaves = self._leaves(session)[: checkpoint.tree_size]
        if len(leaves) != checkpoint.tree_size or root(leaves).hex() != checkpoint.root_hash:
            raise AuditError(
                f"the stored entries do not match checkpoint {checkpoint.id}", hint=_VERIFY_HINT
            )
        path = tuple(inclusion_proof(seq, leaves))
        return format_proof(InclusionProof(seq, path, checkpoint.note_text))
