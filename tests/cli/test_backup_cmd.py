"""``nvr backup`` / ``nvr restore`` on real data directories (docs/design/backup.md).

The round trip is the issue's acceptance test: back up a box with footage, an event, a
config with a secrets file and a TLS certificate; wipe it; restore with the passphrase;
``nvr audit verify`` passes; the copied segments decrypt with the restored keys (ours and
the stock ``age`` CLI). Around it: the recovery key, every refusal (wrong passphrase,
damaged or forged archives, an installed box without ``--force``), an older database
migrated on restore, and a backup taken while another writer appends to the audit log.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nvr.audit.log import AuditLog
from nvr.clock import SystemClock
from nvr.config import Config, load_config
from nvr.crypto import (
    CHUNK_SIZE,
    X25519Identity,
    encrypt_stream,
    parse_identity_file,
    parse_recipient,
)
from nvr.db import default_sqlite_url, downgrade, make_engine, session_factory
from nvr.db.migrate import HEAD
from nvr.keys.store import KeyStore
from nvr.service.backup import ARCHIVE, MANIFEST, create_backup, restore_backup
from nvr.service.box import SYSTEM, open_box
from nvr.web.tls import ensure_self_signed
from tests.cli.conftest import Run
from tests.support.procs import require

OWNER = "sunny-Meadow-42-quietly"
SecretFile = Callable[[str, str], Path]


class Box:
    """A set-up box in ``root``: config and secrets in ``root/etc``, data in ``root/data``."""

    def __init__(self, root: Path, nvr: Run, secret_file: SecretFile) -> None:
        self.root = root
        self.nvr = nvr
        self.data = root / "data"
        self.etc = root / "etc"
        self.etc.mkdir(parents=True)
        self.config = self.etc / "nvr.yaml"
        self.config.write_text(
            f"storage:\n  data_dir: {self.data}\n"
            "notifications:\n  mqtt:\n    password: !secret mqtt\n"
            "logging:\n  level: debug\n"
        )
        self.secrets = self.etc / "secrets.yaml"
        self.secrets.write_text("mqtt: broker-password-1\n")
        self.secrets.chmod(0o600)
        self.pw = secret_file("pw", OWNER)
        self.recovery = root / "recovery.key"
        code, _, err = nvr(
            "keys", "init", *self.args(), "--passphrase-file", str(self.pw),
            "--work-factor", "15", "--recovery-file", str(self.recovery),
        )  # fmt: skip
        assert code == 0, err

    def args(self) -> list[str]:
        return ["--config", str(self.config)]

    def cfg(self) -> Config:
        return load_config(self.config)

    def footage(self) -> tuple[str, int]:
        """One closed segment and one sealed event; returns the segment path and event id."""
        box = open_box(self.cfg(), SystemClock())
        try:
            store = box.segment_store()
            seg = store.open_segment("porch", box.clock.wall())
            seg.write(b"frame" * CHUNK_SIZE)
            rec = seg.close(box.clock.wall())
            event = box.event_store().add(
                "porch",
                {"type": "doorbell", "start": datetime.now(UTC).isoformat()},
                b"\xff\xd8\xff" + b"jpeg" * 10,
            )
            ensure_self_signed(self.data / "tls", ["localhost"], datetime.now(UTC))
            return rec.path, event
        finally:
            box.close()

    def backup(self, out: Path) -> None:
        code, stdout, err = self.nvr("backup", *self.args(), "--out", str(out))
        assert code == 0, err
        assert stdout.startswith(f"backup written: {out}")

    def restore(
        self, archive: Path, *extra: str, data: Path | None = None, config: Path | None = None
    ) -> tuple[int, str, str]:
        """``nvr restore`` with the passphrase, into this box's places unless told."""
        return self.nvr(
            "restore", str(archive), "--passphrase-file", str(self.pw), *extra,
            "--data-dir", str(data or self.data), "--config", str(config or self.config),
        )  # fmt: skip


@pytest.fixture
def box(tmp_path: Path, nvr: Run, secret_file: SecretFile) -> Box:
    return Box(tmp_path / "box", nvr, secret_file)


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its SHA-256: what must come back, or stay as it was."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def table(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.mark.usefixtures("age_required")
def test_backup_wipe_restore_gives_the_box_back(box: Box, nvr: Run, tmp_path: Path) -> None:
    seg_path, event_id = box.footage()
    keys_before = tree(box.data / "keys")
    tls_before = tree(box.data / "tls")
    sealed_before = tree(box.data / "sealed")
    config_text, secrets_text = box.config.read_text(), box.secrets.read_text()
    archive = tmp_path / "box.backup"
    box.backup(archive)
    assert archive.stat().st_mode & 0o777 == 0o600
    with tarfile.open(archive) as outer:
        assert outer.getnames() == ["README.txt", "owner.identity.age", ARCHIVE]
    code, out, _ = nvr("audit", "log", "--kind", "backup", *box.args())
    assert "backup.create" in out

    # The footage goes elsewhere the way the design note says (it is ciphertext already).
    copied = tmp_path / "usb" / "segments"
    shutil.copytree(box.data / "segments", copied)
    shutil.rmtree(box.data)
    shutil.rmtree(box.etc)

    code, out, err = box.restore(archive)  # back where the box had everything
    assert code == 0, err
    assert f"the box had:    data directory {box.data}, config {box.config}" in out
    assert "audit log:      OK" in out
    assert "1 segments indexed, 0 present" in out
    assert "rsync -a" in out
    assert tree(box.data / "keys") == keys_before  # still wrapped, byte for byte
    assert tree(box.data / "tls") == tls_before  # the fingerprint the owner noted
    assert tree(box.data / "sealed") == sealed_before
    assert (box.config.read_text(), box.secrets.read_text()) == (config_text, secrets_text)
    assert box.secrets.stat().st_mode & 0o077 == 0
    assert not (box.data / "segments").exists()

    code, out, err = nvr("audit", "verify", *box.args())
    assert code == 0, err
    assert out.startswith("audit log: OK")
    code, out, _ = nvr("audit", "log", "--kind", "backup", *box.args())
    assert "backup.restore" in out

    shutil.copytree(copied, box.data / "segments")
    code, out, err = nvr("storage", "verify", "--passphrase-file", str(box.pw), *box.args())
    assert code == 0, err
    assert out.startswith("1 closed and 0 truncated segments authenticated")
    restored = open_box(box.cfg(), SystemClock())
    try:
        identities = restored.keys.unlock(OWNER.encode()).identities
        assert restored.event_store().open(event_id, identities).type == "doorbell"
    finally:
        restored.close()
    # The stock age CLI opens the old segment with the recovery key, and the backup too.
    plain = subprocess.run(
        ["age", "-d", "-i", str(box.recovery), str(box.data / seg_path)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert plain == b"frame" * CHUNK_SIZE
    with tarfile.open(archive) as outer:
        inner = outer.extractfile(ARCHIVE)
        assert inner is not None
        sealed = inner.read()
    opened = subprocess.run(
        ["age", "-d", "-i", str(box.recovery)], input=sealed, capture_output=True, check=True,
        timeout=60,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(opened)) as tar:
        names = tar.getnames()
    assert names[-1] == MANIFEST
    assert {"data/nvr.sqlite3", "data/keys/owner.identity.age", "data/keys/device.signing.key",
            "data/tls/key.pem", "config/nvr.yaml", "config/secrets.yaml"} <= set(names)  # fmt: skip
    assert not any(n.startswith("data/segments") for n in names)


def test_the_recovery_key_opens_a_backup_and_the_manifest_lists_every_file(
    box: Box, nvr: Run, tmp_path: Path
) -> None:
    box.footage()
    archive = tmp_path / "b"
    box.backup(archive)
    target = tmp_path / "new-box"
    new_config = tmp_path / "new-etc" / "nvr.yaml"
    code, out, err = nvr(
        "restore", str(archive), "--identity", str(box.recovery), "--data-dir", str(target),
        "--config", str(new_config),
    )  # fmt: skip
    assert code == 0, err
    assert f"the restored config says data_dir {box.data}" in out  # moved: the owner is told
    assert (new_config.parent / "secrets.yaml").read_text() == box.secrets.read_text()
    code, out, err = nvr("audit", "verify", "--data-dir", str(target))
    assert code == 0, err
    # Restoring elsewhere leaves the original untouched.
    assert (box.data / "nvr.sqlite3").exists()
    ids = parse_identity_file(box.recovery.read_text())
    assert KeyStore(target).recipient_list()["recovery"] == ids[0].recipient()


@pytest.mark.usefixtures("age_required")
def test_without_the_wrapped_identity_only_the_recovery_key_opens_it(
    box: Box, nvr: Run, tmp_path: Path
) -> None:
    # The design note's advice for an owner who wants nothing guessable in the file.
    archive = tmp_path / "b"
    box.backup(archive)
    subprocess.run(
        ["tar", "--delete", "-f", str(archive), "owner.identity.age"], check=True, timeout=60
    )
    target = tmp_path / "new"
    code, _, err = box.restore(archive, data=target)
    assert code == 1
    assert "holds no passphrase-wrapped owner identity" in err
    assert "--identity" in err
    assert not target.exists()
    code, _, err = nvr(
        "restore", str(archive), "--identity", str(box.recovery), "--data-dir", str(target),
        "--config", str(tmp_path / "etc" / "nvr.yaml"),
    )  # fmt: skip
    assert code == 0, err


def test_wrong_passphrase_or_key_is_refused_and_nothing_is_written(
    box: Box, nvr: Run, tmp_path: Path, secret_file: SecretFile
) -> None:
    archive = tmp_path / "b"
    box.backup(archive)
    target = tmp_path / "new"
    wrong = secret_file("wrong", "not-the-Right-one-at-all-33")
    where = ["--data-dir", str(target), "--config", str(tmp_path / "etc" / "nvr.yaml")]
    code, _, err = nvr("restore", str(archive), "--passphrase-file", str(wrong), *where)
    assert (code, err.splitlines()[0]) == (1, "nvr: error: wrong passphrase")
    other = tmp_path / "other.key"
    other.write_text(X25519Identity.generate().to_string() + "\n")
    code, _, err = nvr("restore", str(archive), "--identity", str(other), *where)
    assert (code, err.splitlines()[0]) == (1, "nvr: error: this key does not open the backup")
    code, _, err = nvr("restore", str(archive), *where)
    assert code == 1
    assert "--passphrase-file" in err
    assert not target.exists()
    assert not (tmp_path / "etc").exists()


def damaged_copies(archive: Path, folder: Path) -> Iterator[tuple[str, Path]]:
    data = archive.read_bytes()
    with tarfile.open(archive) as outer:
        info = outer.getmember(ARCHIVE)
    start, size = info.offset_data, info.size
    flipped = bytearray(data)
    flipped[start + size // 2] ^= 0x01  # one bit, inside the encrypted payload
    yield "a flipped bit", _write(folder / "flipped", bytes(flipped))
    yield "cut in the payload", _write(folder / "cut", data[: start + size - 100])
    yield "cut in half", _write(folder / "half", data[: len(data) // 2])
    yield "not a backup", _write(folder / "junk", b"hello" * 1000)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_damaged_archive_is_refused_and_the_installed_box_stays_as_it_was(
    box: Box, tmp_path: Path
) -> None:
    box.footage()
    archive = tmp_path / "b"
    box.backup(archive)
    before = tree(box.data)
    config_before = box.config.read_text()
    for what, copy in damaged_copies(archive, tmp_path):
        code, _, err = box.restore(copy, "--force")
        assert code == 1, what
        first = err.splitlines()[0]
        assert "damaged" in first or "not a Porchlight backup" in first, (what, err)
        assert "nothing was restored" in err, what
        assert tree(box.data) == before, what  # no staging left, nothing replaced
        assert box.config.read_text() == config_before


def test_an_installed_box_is_replaced_only_with_force_and_kept_aside(
    box: Box, nvr: Run, tmp_path: Path, secret_file: SecretFile
) -> None:
    archive = tmp_path / "b"
    box.backup(archive)
    nvr("audit", "checkpoint", *box.args())  # the box moves on after the backup
    entries_now = table(box.data / "nvr.sqlite3", "SELECT count(*) FROM audit_entries")[0][0]
    keys_now = tree(box.data / "keys")
    code, _, err = box.restore(archive)
    assert code == 1
    assert "already holds a Porchlight box with owner keys" in err
    assert "--force" in err
    assert tree(box.data / "keys") == keys_now

    code, _, err = box.restore(archive, "--force")
    assert code == 0, err
    [kept] = box.data.glob("before-restore-*")
    assert tree(kept / "keys") == keys_now
    assert table(kept / "nvr.sqlite3", "SELECT count(*) FROM audit_entries")[0][0] == entries_now
    assert list(box.etc.glob("nvr.yaml.before-restore-*"))
    assert nvr("audit", "verify", *box.args())[0] == 0


def test_an_older_backup_is_migrated_on_restore(box: Box, nvr: Run, tmp_path: Path) -> None:
    url = default_sqlite_url(box.data)
    downgrade(url, "0007")  # as if made by the previous release
    archive = tmp_path / "b"
    code, out, err = nvr("backup", *box.args(), "--out", str(archive))
    assert code == 0, err
    assert "revision 0007" in out
    target = tmp_path / "new"
    code, out, err = box.restore(archive, data=target, config=tmp_path / "new.yaml")
    assert code == 0, err
    assert f"migrated 0007 -> {HEAD}" in out
    assert table(target / "nvr.sqlite3", "SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert nvr("audit", "verify", "--data-dir", str(target))[0] == 0


def test_a_backup_taken_while_a_writer_appends_is_consistent(box: Box, tmp_path: Path) -> None:
    cfg = box.cfg()
    keys = KeyStore(box.data)
    device = keys.device_key()
    engine = make_engine(cfg.database_url())
    probe = open_box(cfg, SystemClock())
    origin = probe.origin
    probe.close()
    writer = AuditLog(session_factory(engine), device, origin, SystemClock())
    stop, started = threading.Event(), threading.Event()
    written: list[int] = []

    def append() -> None:
        while not stop.is_set():
            written.append(writer.append("test.tick", {"n": len(written)}, SYSTEM))
            if len(written) == 20:
                started.set()

    thread = threading.Thread(target=append)
    thread.start()
    try:
        assert started.wait(60)
        low = len(written)
        archive = tmp_path / "b"
        create_backup(cfg, box.config, archive, SystemClock())
    finally:
        stop.set()
        thread.join()
        engine.dispose()
    target = tmp_path / "new"
    ids = parse_identity_file(box.recovery.read_text())
    result = restore_backup(
        archive, list(ids), SystemClock(), data_dir=target, config_out=tmp_path / "new.yaml"
    )
    assert result.audit_ok
    db = target / "nvr.sqlite3"
    assert table(db, "PRAGMA integrity_check") == [("ok",)]
    ticks = table(db, "SELECT count(*) FROM audit_entries WHERE kind = 'test.tick'")[0][0]
    assert low <= int(str(ticks)) <= len(written)


def test_postgresql_is_refused_with_a_way_forward(box: Box, nvr: Run, tmp_path: Path) -> None:
    box.config.write_text(
        box.config.read_text() + "database:\n  url: postgresql+psycopg://nvr:pw@127.0.0.1/nvr\n"
    )
    code, _, err = nvr("backup", *box.args(), "--out", str(tmp_path / "b"))
    assert code == 1
    assert err.splitlines()[0] == (
        "nvr: error: the database is postgresql: nvr backup copies SQLite only"
    )
    assert "pg_dump" in err
    assert not (tmp_path / "b").exists()


def test_backup_never_overwrites_and_needs_owner_keys(box: Box, nvr: Run, tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.write_bytes(b"precious")
    code, _, err = nvr("backup", *box.args(), "--out", str(out))
    assert (code, out.read_bytes()) == (1, b"precious")
    assert "already exists" in err
    code, _, err = nvr(
        "backup", "--data-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "c")
    )
    assert code == 1
    assert "no owner keys" in err
    assert not (tmp_path / "c").exists()


def forged(archive: Path, recipient: str, members: list[tarfile.TarInfo], out: Path) -> Path:
    """A backup anyone could make (the recipients are public): ``members`` (their data is
    ``b"x" * size``) and a manifest listing them, in the real backup's outer file."""
    listed = [
        {"name": m.name, "size": m.size, "sha256": hashlib.sha256(b"x" * m.size).hexdigest()}
        for m in members
        if m.isreg()
    ]
    manifest = {
        "format": "porchlight-backup", "version": 1, "files": listed, "device_id": "x",
        "created": "2026-01-01T00:00:00+00:00", "data_dir": "/nowhere",
        "database": {"member": "data/nvr.sqlite3", "revision": None},
    }  # fmt: skip
    body = json.dumps(manifest).encode()
    inner = io.BytesIO()
    with (
        encrypt_stream(inner, [parse_recipient(recipient)]) as writer,
        tarfile.open(fileobj=writer, mode="w|") as tar,  # type: ignore[call-overload]
    ):
        for info in members:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for info in src.getmembers():
            if info.name == ARCHIVE:
                info.size = len(inner.getvalue())
                dst.addfile(info, io.BytesIO(inner.getvalue()))
            else:
                dst.addfile(info, src.extractfile(info))
    return out


def member(name: str, size: int = 1, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type = (size if kind == tarfile.REGTYPE else 0), kind
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info


def test_a_forged_archive_cannot_write_outside_the_target(box: Box, tmp_path: Path) -> None:
    archive = tmp_path / "b"
    box.backup(archive)
    owner = str(KeyStore(box.data).recipient_list()["owner"])
    cases = {
        "escape": [member("data/../../evil")],
        "absolute": [member("/tmp/evil")],
        "elsewhere": [member("etc/evil")],
        "symlink": [member("data/keys/evil", kind=tarfile.SYMTYPE)],
        "hard link": [member("data/keys/evil", kind=tarfile.LNKTYPE)],
        "folder": [member("data/keys", kind=tarfile.DIRTYPE)],
    }
    target = tmp_path / "new"
    for what, members in cases.items():
        fake = forged(archive, owner, members, tmp_path / what.replace(" ", "-"))
        code, _, err = box.restore(fake, data=target)
        assert code == 1, what
        assert "tampered" in err, (what, err)
        assert not target.exists(), what
    assert not (tmp_path / "evil").exists()
    # Well-formed, but not a box: refused before anything is written.
    fake = forged(archive, owner, [member("data/keys/x")], tmp_path / "plausible")
    code, _, err = box.restore(fake, data=target)
    assert code == 1
    assert "data/nvr.sqlite3 is not in it" in err
    assert not target.exists()


def test_vkey_pins_the_device(box: Box, nvr: Run, tmp_path: Path) -> None:
    archive = tmp_path / "b"
    box.backup(archive)
    code, vkey, _ = nvr("audit", "key", *box.args())
    assert code == 0
    target = tmp_path / "new"
    other = open_box(Config().model_copy(update={"storage": Config().storage.model_copy(
        update={"data_dir": tmp_path / "other"})}), SystemClock())  # fmt: skip
    other_vkey = other.audit.verifier.vkey()
    other.close()
    code, _, err = box.restore(archive, "--vkey", other_vkey, data=target)
    assert code == 1
    assert "whose verifier key is not the --vkey given" in err
    assert not target.exists()
    code, _, err = box.restore(archive, "--vkey", vkey.strip(), data=target)
    assert code == 0, err


def test_a_box_without_a_config_file_keeps_the_dashboards_own(
    nvr: Run, secret_file: SecretFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `nvr demo` style: no config file; the dashboard writes DATA_DIR/nvr.yaml.
    monkeypatch.chdir(tmp_path)  # so ./config/nvr.yaml is not found either
    monkeypatch.delenv("NVR_CONFIG", raising=False)
    data = tmp_path / "data"
    pw = secret_file("pw", OWNER)
    assert nvr("keys", "init", "--passphrase-file", str(pw), "--data-dir", str(data),
               "--work-factor", "15")[0] == 0  # fmt: skip
    (data / "nvr.yaml").write_text("cameras: []\n")
    archive = tmp_path / "b"
    code, _, err = nvr("backup", "--data-dir", str(data), "--out", str(archive))
    assert code == 0, err
    target, unused = tmp_path / "new", tmp_path / "etc" / "nvr.yaml"
    code, out, err = nvr(
        "restore", str(archive), "--passphrase-file", str(pw), "--data-dir", str(target),
        "--config", str(unused),
    )  # fmt: skip
    assert code == 0, err
    assert "config none" in out
    assert (target / "nvr.yaml").read_text() == "cameras: []\n"
    assert not unused.exists()


@pytest.mark.usefixtures("age_required")
def test_the_stock_tools_open_a_backup_with_the_passphrase(box: Box, tmp_path: Path) -> None:
    require(None if shutil.which("script") else "util-linux 'script' not installed")
    # The README's recipe: tar, then age with the wrapped identity (age asks on a terminal,
    # so util-linux `script` gives it one and types the passphrase).
    archive = tmp_path / "b"
    box.backup(archive)
    work = tmp_path / "by-hand"
    work.mkdir()
    subprocess.run(["tar", "-xf", str(archive)], cwd=work, check=True, timeout=60)
    command = "age -d -i owner.identity.age -o inner.tar backup.tar.age"
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        cwd=work,
        input=f"{OWNER}\n".encode(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout
    with tarfile.open(work / "inner.tar") as tar:
        member = tar.extractfile(MANIFEST)
        assert member is not None
        manifest = json.loads(member.read())
        database = tar.extractfile("data/nvr.sqlite3")
        assert database is not None
        (work / "copy.sqlite3").write_bytes(database.read())
    opened = open_box(box.cfg(), SystemClock())
    try:
        assert manifest["device_id"] == opened.device_id
    finally:
        opened.close()
    assert table(work / "copy.sqlite3", "SELECT kind FROM audit_entries LIMIT 1") == [
        ("keys.init",)
    ]


def test_a_fresh_box_that_ran_once_takes_the_restore_without_force(
    box: Box, tmp_path: Path
) -> None:
    # install.sh starts the service once: a device key, an empty database, a certificate
    # and a setup code, but no owner. The owner restores instead of finishing the setup;
    # segments copied in beforehand are left alone and found.
    seg_path, _ = box.footage()
    archive = tmp_path / "b"
    box.backup(archive)
    target = tmp_path / "new"
    fresh_cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": target})}
    )
    fresh = open_box(fresh_cfg, SystemClock())
    fresh_device = fresh.device_id
    fresh.close()
    ensure_self_signed(target / "tls", ["localhost"], datetime.now(UTC))
    (target / "setup-code").write_text("ABCD-EFGH\n")
    shutil.copytree(box.data / "segments", target / "segments")
    fresh_tls = tree(target / "tls")

    code, out, err = box.restore(archive, data=target, config=tmp_path / "etc" / "nvr.yaml")
    assert code == 0, err
    assert "1 segments indexed, 1 present" in out
    assert not (target / "setup-code").exists()
    [kept] = target.glob("before-restore-*")
    assert (kept / "setup-code").exists()
    assert tree(kept / "tls") == fresh_tls
    devices = []
    for cfg in (fresh_cfg, box.cfg()):
        opened = open_box(cfg, SystemClock())
        devices.append(opened.device_id)
        opened.close()
    assert devices[0] == devices[1] != fresh_device  # the old box's device is back
    assert (target / seg_path).is_file()
