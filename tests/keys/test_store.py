"""The key folder: init, unlock, recovery with the stock age CLI, passphrase change,
rotation, members, tampering. Work factor 2^15 (the floor) keeps each scrypt ~0.1 s."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nvr.crypto import X25519Identity
from nvr.keys.files import seal, unseal
from nvr.keys.store import KeyError_, KeyStore

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PASS = b"sunny-Meadow-42-quietly"
LOG_N = 15
needs_age = pytest.mark.usefixtures("age_required")


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path)
    store.init(PASS, log_n=LOG_N, now=NOW)
    return store


def test_init_writes_private_files_and_no_recovery_secret(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    recovery = store.init(PASS, log_n=LOG_N, now=NOW)
    assert stat.S_IMODE(store.dir.stat().st_mode) == 0o700
    for path in store.dir.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert recovery.to_string().encode() not in path.read_bytes()
    names = sorted(p.name for p in store.dir.iterdir())
    assert names == [
        "device.signing.key",
        "owner.identity.age",
        "owner.signing.age",
        "owner.signing.pub",
        "recipients.json",
    ]
    listed = store.recipient_list()
    assert str(listed["recovery"]) == str(recovery.recipient())
    with pytest.raises(KeyError_, match="already exist"):
        store.init(PASS, log_n=LOG_N, now=NOW)


def test_unlock_decrypts_what_the_recipients_encrypt(keys: KeyStore) -> None:
    blob = seal(b"footage", keys.recipients())
    unlocked = keys.unlock(PASS)
    assert unseal(blob, unlocked.identities) == b"footage"
    assert b"AGE-SECRET-KEY-1" in unlocked.secret
    with pytest.raises(KeyError_, match="wrong passphrase"):
        keys.unlock(b"not the passphrase at all")


@needs_age
def test_recovery_path_needs_only_the_age_cli(keys: KeyStore, tmp_path: Path) -> None:
    """age -d the identity file with the passphrase (via a pty), then age -d the footage."""
    import os
    import pty

    blob = tmp_path / "segment.age"
    blob.write_bytes(seal(b"the porch at 3am", keys.recipients()))
    out = tmp_path / "owner.key"
    pid, fd = pty.fork()
    if pid == 0:  # child: age reads the passphrase from the terminal
        os.execvp("age", ["age", "-d", "-o", str(out), str(keys.dir / "owner.identity.age")])  # noqa: S606
    buf = b""
    while b"passphrase" not in buf.lower():
        buf += os.read(fd, 1024)
    os.write(fd, PASS + b"\n")
    while True:
        try:
            if not os.read(fd, 1024):
                break
        except OSError:
            break
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    plain = subprocess.run(
        ["age", "-d", "-i", str(out), str(blob)], capture_output=True, check=True, timeout=60
    )
    assert plain.stdout == b"the porch at 3am"


def test_recovery_identity_decrypts_too(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    recovery = store.init(PASS, log_n=LOG_N, now=NOW)
    assert unseal(seal(b"x", store.recipients()), [recovery]) == b"x"


def test_passphrase_change(keys: KeyStore) -> None:
    new = b"another-Long-phrase-77-calmly"
    keys.change_passphrase(PASS, new, log_n=LOG_N)
    with pytest.raises(KeyError_, match="wrong passphrase"):
        keys.unlock(PASS)
    assert keys.unlock(new).identities


def test_rotation_keeps_old_footage_readable(keys: KeyStore) -> None:
    old_blob = seal(b"before", keys.recipients())
    old_recipients = {str(r) for r in keys.recipients()}
    new_recovery = keys.rotate(PASS, log_n=LOG_N, now=NOW)
    assert not old_recipients & {str(r) for r in keys.recipients()}
    new_blob = seal(b"after", keys.recipients())
    ids = keys.unlock(PASS).identities
    assert unseal(old_blob, ids) == b"before"
    assert unseal(new_blob, ids) == b"after"
    assert unseal(new_blob, [new_recovery]) == b"after"


def test_members_are_recipients_of_new_footage_only(keys: KeyStore) -> None:
    old_blob = seal(b"old", keys.recipients())
    member_pass = b"kitchen-Table-9-orange-sky"
    keys.add_member(PASS, "alex", member_pass, log_n=LOG_N, now=NOW)
    assert keys.members() == ["alex"]
    new_blob = seal(b"new", keys.recipients())
    member = KeyStore(keys.dir.parent)._open_identity_file(
        keys.dir / "members" / "alex.identity.age", member_pass
    )[0]
    assert unseal(new_blob, member) == b"new"
    with pytest.raises(Exception, match="no identity matches"):
        unseal(old_blob, member)
    keys.remove_member(PASS, "alex", now=NOW)
    assert keys.members() == []
    with pytest.raises(KeyError_, match="no member"):
        keys.remove_member(PASS, "alex", now=NOW)


def test_a_tampered_recipient_list_is_refused(keys: KeyStore) -> None:
    path = keys.dir / "recipients.json"
    doc = json.loads(path.read_text())
    doc["list"]["recipients"].append(
        {"name": "thief", "recipient": str(X25519Identity.generate().recipient())}
    )
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyError_, match="not signed by the owner key"):
        keys.recipients()


def test_a_swapped_pinned_key_is_caught_at_unlock(keys: KeyStore, tmp_path: Path) -> None:
    other = KeyStore(tmp_path / "other")
    other.init(PASS, log_n=LOG_N, now=NOW)
    # An attacker re-signs the list with their own key and pins it: recording would accept
    # the list, but the owner's next unlock notices.
    shutil.copy(other.dir / "recipients.json", keys.dir / "recipients.json")
    shutil.copy(other.dir / "owner.signing.pub", keys.dir / "owner.signing.pub")
    assert keys.recipients()
    with pytest.raises(KeyError_, match="pinned owner signing key does not match"):
        keys.unlock(PASS)


def test_device_key_is_stable(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    a, b = store.device_key(), store.device_key()
    assert a.public_key() == b.public_key()
    assert not store.exists()
