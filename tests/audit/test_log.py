"""The database-backed audit log on a real SQLite file, migrated like production.

Tampering is done the way an attacker with the database file would: SQL on the tables.
The exhaustive sweeps (every byte, every checkpoint order) are pure, in test_verify.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from nvr.audit.entry import Actor, decode_entry
from nvr.audit.log import AuditError, AuditLog, verify_log
from nvr.audit.merkle import leaf_hash, root
from nvr.audit.note import Checkpoint, Signer, open_checkpoint, parse_vkey, sign_checkpoint
from nvr.audit.proof import ProofError, verify_proof
from nvr.audit.verify import CheckpointRecord, EntryRecord
from nvr.clock import FakeClock
from nvr.db import make_engine, migrate, session_factory
from nvr.db.models import AuditCheckpoint, AuditEntry

ORIGIN = "porchlight.test/audit"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OWNER = Actor(role="owner", user="ana")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'nvr.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def log(sessions: sessionmaker[Session], clock: FakeClock) -> AuditLog:
    return AuditLog(sessions, KEY, ORIGIN, clock)


def fill(log: AuditLog, clock: FakeClock, n: int, *, checkpoint_every: int = 0) -> None:
    for i in range(n):
        clock.advance(1.5)
        log.append("footage.view", {"camera": "porch", "n": i, "note": "é"}, OWNER)
        if checkpoint_every and (i + 1) % checkpoint_every == 0:
            log.checkpoint()


def sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def records(sessions: sessionmaker[Session]) -> tuple[list[EntryRecord], list[CheckpointRecord]]:
    with sessions() as session:
        entries = [
            EntryRecord(r.seq, r.time, r.kind, r.entry_json, r.leaf_hash)
            for r in session.query(AuditEntry).order_by(AuditEntry.seq)
        ]
        checkpoints = [
            CheckpointRecord(c.id, c.tree_size, c.root_hash, c.note_text)
            for c in session.query(AuditCheckpoint).order_by(AuditCheckpoint.id)
        ]
    return entries, checkpoints


def test_append_numbers_entries_from_zero_in_canonical_form(
    log: AuditLog, clock: FakeClock, sessions: sessionmaker[Session]
) -> None:
    assert log.append("service.start", {"version": "1.0"}, Actor("system", None)) == 0
    clock.advance(2)
    assert log.append("login.success", {}, OWNER) == 1
    first = log.entry(0)
    assert first == (
        b'{"actor":{"role":"system","user":null},"kind":"service.start",'
        b'"payload":{"version":"1.0"},"seq":0,"time":"2026-01-01T00:00:00.000000Z"}'
    )
    assert decode_entry(log.entry(1)).time == clock.wall()
    entries, _ = records(sessions)
    assert entries[0].leaf_hash == leaf_hash(first).hex()
    assert (entries[1].kind, entries[1].time) == ("login.success", clock.wall())


def test_checkpoint_signs_the_tree_head(log: AuditLog, clock: FakeClock) -> None:
    empty = open_checkpoint(log.checkpoint(), ORIGIN, [log.verifier])
    assert (empty.size, empty.root_hash) == (0, root([]))
    fill(log, clock, 5)
    note = log.checkpoint()
    cp = open_checkpoint(note, ORIGIN, [log.verifier])
    assert cp.size == 5
    assert cp.root_hash == root([leaf_hash(log.entry(i)) for i in range(5)])
    assert log.checkpoint() == note  # nothing new: the same checkpoint, no new row
    assert log.verify().checkpoints == 2


def test_a_clean_log_verifies(
    log: AuditLog, clock: FakeClock, sessions: sessionmaker[Session]
) -> None:
    assert log.verify().ok
    fill(log, clock, 23, checkpoint_every=4)
    result = log.verify()
    assert (result.ok, result.entries, result.checkpoints, result.reason) == (True, 23, 5, "")
    # The owner's check needs only the pinned public key.
    pinned = parse_vkey(log.verifier.vkey())
    assert verify_log(sessions, ORIGIN, pinned) == result
    stranger = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32))).verifier()
    assert verify_log(sessions, ORIGIN, stranger).reason == (
        "checkpoint 1: no signature by a known key"
    )
    log.checkpoint()
    assert log.verify().ok


def test_an_altered_entry_in_the_database_is_named(
    log: AuditLog, clock: FakeClock, engine: Engine
) -> None:
    fill(log, clock, 6, checkpoint_every=3)
    sql(
        engine,
        "UPDATE audit_entries SET entry_json = replace(entry_json, 'porch', 'torch') WHERE seq = 4",
    )
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 4)
    assert result.reason == "entry 4: stored leaf hash does not match its JSON (altered)"


def test_an_entry_rewritten_with_its_leaf_hash_is_caught_by_the_checkpoint(
    log: AuditLog, clock: FakeClock, engine: Engine
) -> None:
    fill(log, clock, 9, checkpoint_every=3)
    forged = log.entry(4).replace(b"porch", b"torch")
    sql(
        engine,
        "UPDATE audit_entries SET entry_json = :j, leaf_hash = :h WHERE seq = 4",
        j=forged.decode(),
        h=leaf_hash(forged).hex(),
    )
    result = log.verify()
    assert (result.ok, result.bad_seq, result.bad_checkpoint) == (False, 3, 2)
    assert result.reason.startswith("entries 3..5 do not hash to the root signed in checkpoint 2")


def test_deleting_an_entry_names_it(log: AuditLog, clock: FakeClock, engine: Engine) -> None:
    fill(log, clock, 6, checkpoint_every=6)
    sql(engine, "DELETE FROM audit_entries WHERE seq = 2")
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 2)
    assert result.reason == "entry 2 is missing (the next stored entry is 3)"


def test_deleting_the_last_entries_is_caught_by_the_checkpoint(
    log: AuditLog, clock: FakeClock, engine: Engine
) -> None:
    fill(log, clock, 6, checkpoint_every=6)
    sql(engine, "DELETE FROM audit_entries WHERE seq >= 4")
    result = log.verify()
    assert (result.ok, result.bad_seq, result.bad_checkpoint) == (False, 4, 1)
    assert result.reason == "entries from seq 4 are missing: checkpoint 1 covers 6"


def test_swapping_two_entries_names_the_first(
    log: AuditLog, clock: FakeClock, engine: Engine
) -> None:
    fill(log, clock, 6)
    sql(engine, "UPDATE audit_entries SET seq = -1 WHERE seq = 1")
    sql(engine, "UPDATE audit_entries SET seq = 1 WHERE seq = 4")
    sql(engine, "UPDATE audit_entries SET seq = 4 WHERE seq = -1")
    result = log.verify()
    assert (result.ok, result.bad_seq) == (False, 1)
    assert result.reason == "entry 1: its JSON says seq 4 (moved or reordered)"


def test_a_forged_checkpoint_fails(log: AuditLog, clock: FakeClock, engine: Engine) -> None:
    fill(log, clock, 4)
    log.checkpoint()
    other = Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32)))
    wrong_root = leaf_hash(b"forged")
    forged_note = sign_checkpoint(Checkpoint(ORIGIN, 4, wrong_root), other)
    sql(
        engine,
        "UPDATE audit_checkpoints SET note_text = :n, root_hash = :r",
        n=forged_note,
        r=wrong_root.hex(),
    )
    result = log.verify()
    assert (result.ok, result.bad_checkpoint, result.bad_seq) == (False, 1, None)
    assert result.reason == "checkpoint 1: no signature by a known key"


def test_a_checkpoint_signed_over_another_root_fails(
    log: AuditLog, clock: FakeClock, engine: Engine
) -> None:
    fill(log, clock, 4)
    wrong_root = leaf_hash(b"forged")
    note = sign_checkpoint(Checkpoint(ORIGIN, 4, wrong_root), Signer(ORIGIN, KEY))
    sql(
        engine,
        "INSERT INTO audit_checkpoints (tree_size, root_hash, note_text, created_at) "
        "VALUES (4, :r, :n, '2026-01-01 00:00:00')",
        r=wrong_root.hex(),
        n=note,
    )
    result = log.verify()
    assert (result.ok, result.bad_checkpoint, result.bad_seq) == (False, 1, 0)
    assert "do not hash to the root signed in checkpoint 1" in result.reason
    sql(engine, "UPDATE audit_checkpoints SET root_hash = 'ab'")
    assert log.verify().reason == "checkpoint 1: size or root column disagrees with its signed note"


def test_signing_over_a_rewritten_history_is_refused(
    log: AuditLog, clock: FakeClock, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    fill(log, clock, 4, checkpoint_every=4)
    forged = log.entry(1).replace(b"porch", b"torch")
    sql(
        engine,
        "UPDATE audit_entries SET entry_json = :j, leaf_hash = :h WHERE seq = 1",
        j=forged.decode(),
        h=leaf_hash(forged).hex(),
    )
    fill(log, clock, 2)
    with pytest.raises(AuditError, match=r"refusing to sign: the log does not extend checkpoint 1"):
        log.checkpoint()
    assert len(records(sessions)[1]) == 1
    sql(engine, "DELETE FROM audit_entries WHERE seq >= 3")
    sql(
        engine,
        "UPDATE audit_entries SET entry_json = :j, leaf_hash = :h WHERE seq = 1",
        j=forged.replace(b"torch", b"porch").decode(),
        h="00",
    )
    with pytest.raises(AuditError, match=r"does not extend checkpoint 1 \(size 4\)"):
        log.checkpoint()  # shorter than the checkpoint: entries were removed


def test_a_forged_latest_checkpoint_is_not_built_upon(
    log: AuditLog, clock: FakeClock, engine: Engine
) -> None:
    fill(log, clock, 2, checkpoint_every=2)
    sql(engine, "UPDATE audit_checkpoints SET note_text = replace(note_text, '\n2\n', '\n3\n')")
    fill(log, clock, 2)
    with pytest.raises(AuditError, match="latest checkpoint 1 does not verify: signature 1 by"):
        log.checkpoint()


def test_inclusion_proofs_verify_against_each_checkpoint(log: AuditLog, clock: FakeClock) -> None:
    fill(log, clock, 7, checkpoint_every=5)
    log.checkpoint()
    for seq in range(7):
        cp = verify_proof(log.inclusion_proof(seq), log.entry(seq), ORIGIN, [log.verifier])
        assert cp.size == 7
    for seq in range(5):
        cp = verify_proof(log.inclusion_proof(seq, 5), log.entry(seq), ORIGIN, [log.verifier])
        assert cp.size == 5
    with pytest.raises(ProofError, match="not at index 3"):
        verify_proof(log.inclusion_proof(3), log.entry(2), ORIGIN, [log.verifier])


def test_inclusion_proof_errors(log: AuditLog, clock: FakeClock, engine: Engine) -> None:
    with pytest.raises(AuditError, match="no checkpoint yet"):
        log.inclusion_proof(0)
    fill(log, clock, 3, checkpoint_every=2)
    with pytest.raises(AuditError, match="entry 2 is not covered by the checkpoint of size 2"):
        log.inclusion_proof(2)
    with pytest.raises(AuditError, match="no such checkpoint"):
        log.inclusion_proof(0, 3)
    with pytest.raises(AuditError, match="no audit entry 9"):
        log.entry(9)
    sql(engine, "UPDATE audit_entries SET entry_json = 'x' WHERE seq = 0")
    with pytest.raises(AuditError, match="do not match checkpoint 1"):
        log.inclusion_proof(1)


def test_two_writers_never_share_a_seq(sessions: sessionmaker[Session], clock: FakeClock) -> None:
    # Two AuditLog objects stand for two processes: only the primary key keeps them apart.
    logs = [AuditLog(sessions, KEY, ORIGIN, clock) for _ in range(2)]
    errors: list[BaseException] = []

    def work(log: AuditLog) -> None:
        try:
            for i in range(15):
                log.append("config.change", {"i": i}, OWNER)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(log,)) for log in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    logs[0].checkpoint()
    result = logs[1].verify()
    assert (result.ok, result.entries) == (True, 30)


def test_losing_a_race_for_a_seq_takes_the_next_one(engine: Engine, clock: FakeClock) -> None:
    # Another process appends between our read of the last seq and our insert.
    rival = AuditLog(session_factory(engine), KEY, ORIGIN, clock)
    ours = session_factory(engine)
    raced: list[int] = []

    def rival_appends_first(session: Session, *_: object) -> None:
        if not raced:
            raced.append(rival.append("login.failure", {}, OWNER))

    event.listen(ours, "before_flush", rival_appends_first)
    assert AuditLog(ours, KEY, ORIGIN, clock).append("login.success", {}, OWNER) == 1
    assert raced == [0]
    assert rival.verify().ok


def test_an_entry_stored_as_a_blob_is_named(
    log: AuditLog, clock: FakeClock, engine: Engine
) -> None:
    fill(log, clock, 3, checkpoint_every=3)
    sql(engine, "UPDATE audit_entries SET entry_json = CAST(entry_json AS BLOB) WHERE seq = 1")
    result = log.verify()
    assert (result.ok, result.bad_seq, result.reason) == (
        False,
        1,
        "entry 1: entry_json is not text",
    )
    fill(log, clock, 1)
    with pytest.raises(AuditError, match="audit entry 1 is not text"):
        log.checkpoint()
    with pytest.raises(AuditError, match="audit entry 1 is not text"):
        log.entry(1)


def test_losing_a_race_to_sign_returns_the_winners_checkpoint(
    engine: Engine, clock: FakeClock
) -> None:
    rival = AuditLog(session_factory(engine), KEY, ORIGIN, clock)
    rival.append("service.start", {}, OWNER)
    ours = session_factory(engine)
    signed: list[str] = []

    def rival_signs_first(session: Session, *_: object) -> None:
        if not signed:
            signed.append(rival.checkpoint())

    event.listen(ours, "before_flush", rival_signs_first)
    assert AuditLog(ours, KEY, ORIGIN, clock).checkpoint() == signed[0]
    assert rival.verify().checkpoints == 1
