"""``nvr backup`` / ``nvr restore``: the box's state in one file, encrypted to the owner
(docs/design/backup.md).

The backup file is a plain (uncompressed) tar holding three members:

- ``README.txt``: how to open it with stock ``tar`` and ``age`` alone;
- ``owner.identity.age``: the owner identity exactly as the box keeps it, wrapped by the
  owner passphrase (age scrypt), so the passphrase alone opens the backup on a new box;
- ``backup.tar.age``: the archive, a tar encrypted with age to the owner's and the recovery
  X25519 recipients of the signed recipient list. The box needs no passphrase to write it
  and cannot read it back.

Inside the archive, every member is a regular file: ``data/...`` (relative to the data
directory: ``keys/`` as stored, still wrapped; ``nvr.sqlite3``, a consistent snapshot taken
with SQLite's online backup API while the service may be writing; ``tls/``; ``sealed/``;
the dashboard's ``nvr.yaml``, ``secrets.yaml`` and the setup state file), ``config/...`` (the
config file in use and its secrets file when they live outside the data directory), and
last ``manifest.json``: format version, creation time, Porchlight version, device id and
audit verifier key, database revision, audit log size, where the box kept its data and
config, and the size, SHA-256 and mode of every other member. Footage (``segments/``) is
never included. Only SQLite in the data directory is backed up (PostgreSQL is refused).

``create_backup(cfg, config_path, out, clock)`` writes the file (atomically, mode 0600,
never over an existing file) and appends ``backup.create`` to the audit log.
``restore_backup(...)`` decrypts and checks everything (names, types, sizes, hashes, the
manifest, the members a box needs, the device key against the manifest and an optional
pinned verifier key) before it touches the target, stages the files inside the target data
directory, moves whatever they replace aside into ``before-restore-<time>/`` (the config
file to ``<config>.before-restore-<time>``), renames the staged files into place, migrates
the database to this version's schema and appends ``backup.restore``. A target with owner
keys is refused unless ``force``. Targets come from the caller only, never from the
manifest: age authenticates nothing about the sender, so anyone holding the owner's public
recipient can write an archive that decrypts. Errors a user can cause are ``BackupError``;
every check that can fail on a bad archive fails before the first write.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import make_url

from nvr import __version__
from nvr.audit.entry import Actor
from nvr.audit.log import AuditLog, verify_log
from nvr.audit.note import Signer
from nvr.clock import Clock
from nvr.config import Config
from nvr.config.edit import secrets_path
from nvr.crypto import (
    AgeError,
    Identity,
    NoIdentityMatchError,
    ScryptIdentity,
    X25519Identity,
    decrypt,
    encrypt_stream,
    parse_identity_file,
)
from nvr.db import make_engine, session_factory
from nvr.db.migrate import HEAD, Migration, is_known, upgrade
from nvr.errors import UserError
from nvr.keys.files import unseal
from nvr.keys.store import DEVICE_KEY, KEYS, OWNER_IDENTITY, KeyStore
from nvr.service.box import CLI_OWNER, device_id

FORMAT = "porchlight-backup"
VERSION = 1
README = "README.txt"
WRAPPED_IDENTITY = "owner.identity.age"
ARCHIVE = "backup.tar.age"
MANIFEST = "manifest.json"
DB_FILE = "nvr.sqlite3"
# nvr.web.setup's CODE_FILE and PENDING_FILE, without importing FastAPI into the CLI.
CODE_FILE = "setup-code"
PENDING_FILE = "setup-recovery-pending"
# What a backup takes from the data directory (folders recursively, minus dot files).
DATA_FOLDERS = (KEYS, "tls", "sealed")
DATA_FILES = (DB_FILE, "nvr.yaml", "secrets.yaml", PENDING_FILE)
# What a restore moves aside besides those: SQLite's side files and a fresh box's setup code.
REPLACED_EXTRA = (f"{DB_FILE}-wal", f"{DB_FILE}-shm", CODE_FILE)
NOT_INCLUDED = {
    "segments": "footage: copy DATA_DIR/segments/ yourself (it is age ciphertext already)",
    "quarantine": "files the index could not explain; copy them by hand if you need them",
    "tls files (mode: files)": "the owner's own certificate and key, named in the config",
}
_PART = r"[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*"
_MEMBER = re.compile(rf"^(data|config)(/{_PART})+$")
_COPY_BLOCK = 1 << 20
_RECIPIENT_NAMES = ("owner", "recovery")

_README_TEXT = """\
Porchlight backup (docs/design/backup.md)

backup.tar.age      the box's state (config, keys, database with the audit log, TLS
                    certificate, sealed event records), a tar encrypted with age to the
                    owner's and the recovery key of the day it was made
owner.identity.age  the owner identity, wrapped by the owner passphrase

Restore on a new box:  nvr restore THIS_FILE --passphrase-file FILE
                 or:  nvr restore THIS_FILE --identity RECOVERY_KEY_FILE

Without Porchlight, with the stock tools only:
    tar -xf THIS_FILE
    age -d -i owner.identity.age backup.tar.age | tar -x     (asks for the passphrase)
    age -d -i recovery.key backup.tar.age | tar -x           (or with the recovery key)
Footage is not in here: copy the data directory's segments/ folder alongside.
"""


class BackupError(UserError):
    """A backup or restore cannot go ahead (see the message and the hint)."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    sha256: str
    files: int
    device_id: str
    revision: str | None
    audit_entries: int


@dataclass
class RestoreResult:
    data_dir: Path
    config: Path | None
    device_id: str
    created: str
    migration: Migration
    audit_entries: int
    audit_ok: bool
    replaced: list[str] = field(default_factory=list)
    kept_in: list[Path] = field(default_factory=list)
    segments_indexed: int = 0
    segments_present: int = 0
    notes: list[str] = field(default_factory=list)
    had_data_dir: str = ""  # where the backed-up box had them (shown, never used)
    had_config: str | None = None


# -- backup ---------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"the database is {parsed.get_backend_name()}: nvr backup copies SQLite only",
            hint="back the database up with its own tools (pg_dump), and the config, the "
            "data directory's keys/ and tls/ folders by hand; see docs/design/backup.md",
        )
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"cannot back up the SQLite database {database!r}: not a file path")
    return Path(database)


def _load_device_key(keys: KeyStore) -> Ed25519PrivateKey:
    path = keys.dir / DEVICE_KEY
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read the device key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BackupError(f"{path} is not an Ed25519 key")
    return key


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _read_only(path: Path) -> str:
    """A SQLite URI opening ``path`` read-only (any character in the path is escaped)."""
    return f"{path.absolute().as_uri()}?mode=ro"


def snapshot_sqlite(source: Path, target: Path) -> None:
    """Copy the database at ``source`` to a new file ``target`` in one read transaction of
    SQLite's online backup API: a consistent snapshot while writers carry on (WAL)."""
    src = sqlite3.connect(_read_only(source), uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            problems = dst.execute("PRAGMA integrity_check").fetchall()
            if problems != [("ok",)]:
                raise BackupError(f"the database snapshot is damaged: {problems[:3]}")
        finally:
            dst.close()
    finally:
        src.close()


def _snapshot_facts(path: Path) -> tuple[str | None, int]:
    """(schema revision, audit entries) of a database snapshot."""
    db = sqlite3.connect(_read_only(path), uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        revision = None
        if "alembic_version" in tables:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else str(row[0])
        entries = 0
        if "audit_entries" in tables:
            entries = int(db.execute("SELECT count(*) FROM audit_entries").fetchone()[0])
        return revision, entries
    finally:
        db.close()


def _within(path: Path, folder: Path) -> PurePosixPath | None:
    try:
        return PurePosixPath(path.resolve().relative_to(folder.resolve()).as_posix())
    except ValueError:
        return None


def _data_members(data_dir: Path) -> list[tuple[str, Path]]:
    members: list[tuple[str, Path]] = []
    for name in DATA_FILES:
        if name == DB_FILE:
            continue  # the snapshot stands in for it
        path = data_dir / name
        if path.is_file() and not path.is_symlink():
            members.append((f"data/{name}", path))
    for folder in DATA_FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(data_dir)
            if any(part.startswith(".") for part in rel.parts):
                continue  # temp files, an interrupted key init's staging folder
            if path.is_file() and not path.is_symlink():
                members.append((f"data/{rel.as_posix()}", path))
    return members


class _Hashing(io.RawIOBase):
    """Reads through to ``inner`` and hashes what passed."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.sha.update(data)
        return data


def _add(
    tar: tarfile.TarFile, name: str, source: IO[bytes], size: int, mode: int, mtime: int = 0
) -> str:
    """Add ``size`` bytes of ``source`` as a regular file; returns their SHA-256. Raises
    ``OSError`` if ``source`` ends early (a file that shrank while being read)."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode & 0o644, mtime
    hashing = _Hashing(source)
    tar.addfile(info, hashing)
    return hashing.sha.hexdigest()


def _write_inner(
    target: BinaryIO,
    recipients: list[Any],
    members: list[tuple[str, Path]],
    manifest: dict[str, Any],
) -> int:
    entries: list[dict[str, Any]] = []
    with (
        encrypt_stream(target, recipients) as writer,
        tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar,  # type: ignore[call-overload]
    ):
        for name, path in members:
            try:
                with path.open("rb") as f:
                    st = os.fstat(f.fileno())
                    digest = _add(tar, name, f, st.st_size, st.st_mode)
            except FileNotFoundError:
                continue  # removed meanwhile (retention of a sealed record)
            entries.append(
                {"name": name, "size": st.st_size, "sha256": digest, "mode": st.st_mode & 0o644}
            )
        manifest["files"] = entries
        data = json.dumps(manifest, indent=1, sort_keys=True).encode() + b"\n"
        _add(tar, MANIFEST, io.BytesIO(data), len(data), 0o600)
    return len(entries)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private(path: Path) -> BinaryIO:
    """A new file only we can read; a leftover of a killed run under the name is replaced."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    return cast(BinaryIO, os.fdopen(fd, "w+b"))


def _write_file(
    out: Path,
    inner: Path,
    partial: Path,
    recipients: list[Any],
    members: list[tuple[str, Path]],
    manifest: dict[str, Any],
    keys: KeyStore,
    clock: Clock,
) -> int:
    """The archive to ``inner``, then the outer tar to ``partial``, fsynced and renamed to
    ``out``. Returns the number of files archived (the manifest aside)."""
    with _private(inner) as f:
        count = _write_inner(f, recipients, members, manifest)
    with (
        _private(partial) as f,
        tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as outer,
    ):
        now = int(clock.wall().timestamp())
        readme = _README_TEXT.encode()
        _add(outer, README, io.BytesIO(readme), len(readme), 0o644, now)
        wrapped = (keys.dir / OWNER_IDENTITY).read_bytes()
        _add(outer, WRAPPED_IDENTITY, io.BytesIO(wrapped), len(wrapped), 0o600, now)
        with inner.open("rb") as src:
            _add(outer, ARCHIVE, src, inner.stat().st_size, 0o600, now)
    with partial.open("rb") as f:
        os.fsync(f.fileno())
    if out.exists():
        raise BackupError(f"{out} appeared while the backup was written; not replaced")
    partial.replace(out)
    _fsync_dir(out.parent)
    return count


def create_backup(
    cfg: Config,
    config_path: Path | None,
    out: Path,
    clock: Clock,
    *,
    actor: Actor = CLI_OWNER,
) -> BackupResult:
    """Write the backup of the box of ``cfg`` (loaded from ``config_path``) to ``out``."""
    data_dir = cfg.storage.data_dir
    keys = KeyStore(data_dir)
    if not keys.exists():
        raise BackupError(
            f"no owner keys in {keys.dir}: a backup is encrypted to the owner",
            hint="finish the first run (or 'nvr keys init') first",
        )
    listed = keys.recipient_list()
    recipients = [listed[name] for name in _RECIPIENT_NAMES if name in listed]
    db_path = _sqlite_path(cfg.database_url())
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}", hint="has the service ever run here?")
    if _within(db_path, data_dir) != PurePosixPath(DB_FILE):
        raise BackupError(
            f"the SQLite database {db_path} is not {DB_FILE} in the data directory: "
            "nvr backup copies that one only",
            hint="remove database.url from the config (the default is the data directory)",
        )
    if out.exists():
        raise BackupError(f"{out} already exists", hint="choose another name or remove it")
    if not out.parent.is_dir():
        raise BackupError(f"folder {out.parent} does not exist")
    device = _load_device_key(keys)
    ident = device_id(_raw_public(device))
    origin = f"porchlight/{ident}"

    # Sign the log's current head first, so the snapshot carries a checkpoint of itself.
    url = f"sqlite:///{db_path}"
    engine = make_engine(url)
    try:
        audit = AuditLog(session_factory(engine), device, origin, clock)
        audit.checkpoint()
        staging = Path(tempfile.mkdtemp(prefix=".backup-", dir=data_dir))
        inner = out.with_name(f".{out.name}.inner.tmp")
        partial = out.with_name(f".{out.name}.partial")
        try:
            snapshot = staging / DB_FILE
            snapshot_sqlite(db_path, snapshot)
            revision, entries = _snapshot_facts(snapshot)
            config_in_data = None
            if config_path is not None and _within(config_path, data_dir) == PurePosixPath(
                "nvr.yaml"
            ):
                config_in_data = "nvr.yaml"  # the dashboard's own, taken with the data
            members = [(f"data/{DB_FILE}", snapshot)]
            members += _data_members(data_dir)
            config_member = secrets_member = None
            if config_path is not None and config_in_data is None:
                config_member = f"config/{config_path.name}"
                members.append((config_member, config_path))
                secrets = secrets_path(config_path)
                if secrets.is_file():
                    secrets_member = "config/secrets.yaml"
                    if secrets_member == config_member:
                        secrets_member = "config/secrets-file.yaml"
                    members.append((secrets_member, secrets))
            manifest: dict[str, Any] = {
                "format": FORMAT,
                "version": VERSION,
                "created": clock.wall().isoformat(),
                "nvr_version": __version__,
                "device_id": ident,
                "audit": {"origin": origin, "entries": entries, "vkey": audit.verifier.vkey()},
                "database": {
                    "backend": "sqlite",
                    "revision": revision,
                    "member": members[0][0],
                },
                "data_dir": str(data_dir),
                "config": None
                if config_path is None
                else {
                    "path": str(config_path.absolute()),
                    "member": config_member or f"data/{config_in_data}",
                    "secrets_member": secrets_member,
                },
                "recipients": {
                    name: str(listed[name]) for name in _RECIPIENT_NAMES if name in listed
                },
                "not_included": NOT_INCLUDED,
            }
            try:
                count = _write_file(out, inner, partial, recipients, members, manifest, keys, clock)
            except OSError as exc:
                raise BackupError(f"cannot write {out}: {exc.strerror or exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            inner.unlink(missing_ok=True)
            partial.unlink(missing_ok=True)
        digest = _file_sha256(out)
        size = out.stat().st_size
        audit.append("backup.create", {"sha256": digest, "bytes": size, "files": count}, actor)
    finally:
        engine.dispose()
    return BackupResult(out, size, digest, count, ident, revision, entries)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_COPY_BLOCK):
            h.update(block)
    return h.hexdigest()


# -- restore --------------------------------------------------------------------------------


def identities_from(
    archive: Path, passphrase: bytes | None, identity_text: str | None
) -> list[Identity]:
    """The identities that open ``archive``: from ``identity_text`` (a recovery key or
    identity file; one wrapped by a passphrase needs ``passphrase`` too), else the owner
    identity inside the backup file, unwrapped with ``passphrase``."""
    if identity_text is not None:
        if identity_text.startswith("age-encryption.org/"):
            if passphrase is None:
                raise BackupError(
                    "the identity file is wrapped by a passphrase", hint="add --passphrase-file"
                )
            return list(_unwrap(identity_text.encode("latin-1"), passphrase, "the identity file"))
        try:
            return list(parse_identity_file(identity_text))
        except AgeError as exc:
            raise BackupError(
                f"not an identity file: {exc}",
                hint="give the recovery key file (AGE-SECRET-KEY-1...)",
            ) from None
    if passphrase is None:
        raise BackupError("give --passphrase-file or --identity")
    with _outer(archive) as outer:
        if WRAPPED_IDENTITY not in outer.getnames():
            raise BackupError(
                f"{archive.name} holds no passphrase-wrapped owner identity",
                hint="open it with --identity RECOVERY_KEY_FILE",
            )
        wrapped = _member_bytes(outer, WRAPPED_IDENTITY)
    return list(_unwrap(wrapped, passphrase, archive.name))


def _unwrap(wrapped: bytes, passphrase: bytes, what: str) -> list[X25519Identity]:
    try:
        text = unseal(wrapped, [ScryptIdentity(passphrase)])
    except NoIdentityMatchError:
        raise BackupError(
            "wrong passphrase",
            hint="the backup opens with the owner passphrase of the day it was made, or "
            "with --identity RECOVERY_KEY_FILE",
        ) from None
    except AgeError as exc:
        raise BackupError(f"{what}: the owner identity is damaged: {exc}") from None
    try:
        return parse_identity_file(text.decode())
    except (AgeError, UnicodeDecodeError) as exc:
        raise BackupError(f"{what}: the owner identity is damaged: {exc}") from None


@contextmanager
def _outer(archive: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(archive, mode="r:") as outer:
            yield outer
    except FileNotFoundError:
        raise BackupError(f"{archive} does not exist") from None
    except IsADirectoryError:
        raise BackupError(f"{archive} is a directory") from None
    except (tarfile.TarError, EOFError) as exc:
        why = "the file is cut short" if "end of data" in str(exc) else str(exc)
        raise BackupError(
            f"{archive} is not a Porchlight backup, or it is damaged: {why}",
            hint="nothing was restored",
        ) from None


def _member_bytes(outer: tarfile.TarFile, name: str) -> bytes:
    return _member(outer, name).read()


def _member(outer: tarfile.TarFile, name: str) -> IO[bytes]:
    try:
        info = outer.getmember(name)
    except KeyError:
        raise BackupError(
            f"{name} is missing: not a Porchlight backup, or a damaged one",
            hint="nothing was restored",
        ) from None
    f = outer.extractfile(info) if info.isreg() else None
    if f is None:
        raise BackupError(f"{name} in the backup is not a file", hint="nothing was restored")
    return f


Sink = Callable[[str, int], IO[bytes] | None]


def _allowed(name: str) -> bool:
    """Member names a backup can hold: what ``create_backup`` writes, nothing else."""
    if not _MEMBER.match(name) or ".." in name.split("/"):
        return False
    parts = name.split("/")
    if parts[0] == "config":
        return len(parts) == 2
    if len(parts) == 2:
        return parts[1] in DATA_FILES
    return parts[1] in DATA_FOLDERS


def _damaged(reason: str) -> BackupError:
    return BackupError(
        f"the backup is damaged or was tampered with: {reason}",
        hint="nothing was restored; use another copy of the backup",
    )


def read_archive(
    archive: Path,
    identities: list[Identity],
    sink: Sink | None,
    keep: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """Decrypt and check the whole archive; returns its manifest. ``sink(name, mode)`` gives
    a file to write each member to (``None``: only check); members named in ``keep`` are
    also returned there (small ones only: the device key). Raises ``BackupError`` on any
    name, type, size or hash that does not match the manifest."""
    seen: dict[str, tuple[int, str, int]] = {}
    manifest: dict[str, Any] | None = None
    with _outer(archive) as outer:
        source = _member(outer, ARCHIVE)
        try:
            reader = decrypt(source, identities)  # type: ignore[arg-type]
        except NoIdentityMatchError:
            raise BackupError(
                "this key does not open the backup",
                hint="it is encrypted to the owner and recovery keys of the day it was made",
            ) from None
        except AgeError as exc:
            raise _damaged(str(exc)) from None
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise _damaged(f"the file is cut short ({exc})") from None
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for info in tar:
                    if manifest is not None:
                        raise _damaged(f"member {info.name!r} after the manifest")
                    if not info.isreg():
                        raise _damaged(f"member {info.name!r} is not a regular file")
                    data = tar.extractfile(info)
                    assert data is not None
                    if info.name == MANIFEST:
                        manifest = _parse_manifest(data.read(1 << 24))
                        continue
                    if not _allowed(info.name):
                        raise _damaged(f"unexpected member {info.name!r}")
                    if info.name in seen:
                        raise _damaged(f"member {info.name!r} appears twice")
                    target = sink(info.name, info.mode) if sink is not None else None
                    h = hashlib.sha256()
                    kept = keep is not None and info.name in keep
                    while block := data.read(_COPY_BLOCK):
                        h.update(block)
                        if target is not None:
                            target.write(block)
                        if kept:
                            assert keep is not None
                            keep[info.name] += block
                    if target is not None:
                        target.close()
                    seen[info.name] = (info.size, h.hexdigest(), info.mode)
        except AgeError as exc:
            raise _damaged(str(exc)) from None
        except (tarfile.TarError, EOFError) as exc:
            raise _damaged(f"the archive inside is not a valid tar ({exc})") from None
    if manifest is None:
        raise _damaged("no manifest")
    listed = {e["name"]: (e["size"], e["sha256"]) for e in manifest["files"]}
    got = {name: (size, digest) for name, (size, digest, _) in seen.items()}
    if listed != got:
        bad = sorted(set(listed.items()) ^ set(got.items()))
        raise _damaged(f"files do not match the manifest: {bad[0][0]}")
    return manifest


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError("not a Porchlight backup manifest")
        if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
            raise BackupError(
                f"backup format version {doc.get('version')} is newer than this Porchlight "
                f"reads ({VERSION})",
                hint="restore with the Porchlight version that made it, or a newer one",
            )
        for entry in doc["files"]:
            if not (
                isinstance(entry["name"], str)
                and isinstance(entry["size"], int)
                and isinstance(entry["sha256"], str)
            ):
                raise ValueError("bad file entry")
        for key in ("device_id", "created", "data_dir", "database"):
            if key not in doc:
                raise ValueError(f"no {key}")
        return dict(doc)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _damaged(f"bad manifest ({exc})") from None


def _check_complete(manifest: dict[str, Any], device_pem: bytes, vkey: str | None) -> None:
    """The members a box cannot run without are there, and the device key is the one the
    manifest names (and ``vkey``, when given); refused before any write otherwise."""
    names = {entry["name"] for entry in manifest["files"]}
    needed = [
        str(manifest["database"].get("member")),
        f"data/{KEYS}/{OWNER_IDENTITY}",
        f"data/{KEYS}/{DEVICE_KEY}",
        f"data/{KEYS}/recipients.json",
    ]
    config = manifest.get("config")
    if config is not None:
        needed.append(str(config.get("member")))
    absent = [name for name in needed if name not in names]
    if absent:
        raise _damaged(f"{absent[0]} is not in it")
    try:
        key = serialization.load_pem_private_key(device_pem, password=None)
    except ValueError:
        raise _damaged("the device key does not parse") from None
    if not isinstance(key, Ed25519PrivateKey) or device_id(_raw_public(key)) != str(
        manifest["device_id"]
    ):
        raise _damaged("the device key is not the device the manifest names")
    if vkey is not None:
        origin = f"porchlight/{manifest['device_id']}"
        if Signer(origin, key).verifier().vkey() != vkey.strip():
            raise BackupError(
                f"the backup is of device {manifest['device_id']}, whose verifier key is not "
                "the --vkey given",
                hint="this is not a backup of your box, or not of the box that --vkey names; "
                "nothing was restored",
            )


def installed(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a set-up box (owner keys): restore refuses it unless forced."""
    return KeyStore(data_dir).exists()


def _open_sink(staging: Path) -> Sink:
    def sink(name: str, mode: int) -> IO[bytes]:
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, (mode & 0o644) | 0o600)
        return os.fdopen(fd, "wb")

    return sink


def restore_backup(
    archive: Path,
    identities: list[Identity],
    clock: Clock,
    *,
    data_dir: Path,
    config_out: Path | None,
    force: bool = False,
    vkey: str | None = None,
) -> RestoreResult:
    """Restore ``archive`` into ``data_dir``, its config file (if it had one outside the
    data directory) to ``config_out`` (see the module docstring). The paths recorded in the
    manifest are never used as targets: anyone can write an archive to the owner's public
    recipients, so only the caller says where files go. ``vkey``: refuse unless the
    archive's device key is this audit verifier key (``nvr audit key`` of the old box)."""
    keep = {f"data/{KEYS}/{DEVICE_KEY}": b""}
    manifest = read_archive(archive, identities, None, keep)  # every check before any write
    _check_complete(manifest, keep[f"data/{KEYS}/{DEVICE_KEY}"], vkey)
    revision = manifest["database"].get("revision")
    if revision is not None and not is_known(str(revision)):
        raise BackupError(
            f"the backup's database is at revision {revision}, which this version of "
            f"Porchlight does not know (newest known: {HEAD})",
            hint="restore with the Porchlight version that made the backup, or a newer one",
        )
    target = data_dir.absolute()
    if installed(target) and not force:
        raise BackupError(
            f"{target} already holds a Porchlight box with owner keys",
            hint="restore elsewhere with --data-dir, or add --force (what is replaced is "
            "kept in a before-restore-* folder)",
        )
    config = manifest.get("config") or {}
    config_member = config.get("member")
    config_target = None
    if isinstance(config_member, str) and config_member.startswith("config/"):
        if config_out is None:
            raise BackupError("the backup holds a config file: say where with --config")
        config_target = config_out.absolute()

    created_dir = not target.exists()
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=target))
    try:
        again = read_archive(archive, identities, _open_sink(staging))
        if again != manifest:
            raise _damaged("the file changed while it was read")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_dir and not any(target.iterdir()):
            target.rmdir()
        raise
    stamp = f"{clock.wall():%Y%m%dT%H%M%SZ}"
    result = RestoreResult(
        data_dir=target,
        config=config_target,
        device_id=str(manifest["device_id"]),
        created=str(manifest["created"]),
        migration=Migration(None, None),
        audit_entries=0,
        audit_ok=False,
        had_data_dir=str(manifest["data_dir"]),
        had_config=None if config.get("path") is None else str(config["path"]),
    )
    try:
        _place(staging, target, stamp, result)
        if config_target is not None:
            secrets = config.get("secrets_member")
            _place_config(staging, str(config_member), secrets, config_target, stamp, result)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    url = f"sqlite:///{target / DB_FILE}"
    result.migration = upgrade(url)
    _record_and_verify(result, url, target, clock, archive)
    _count_segments(result, target / DB_FILE, target)
    if config_target is not None:
        result.notes += _config_notes(config_target, target)
    return result


def _keep(path: Path, kept: Path, result: RestoreResult) -> None:
    """Move ``path`` (if present) into ``kept``, the copy of what the restore replaces."""
    if not (path.exists() or path.is_symlink()):
        return
    kept.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.rename(kept / path.name)
    result.replaced.append(str(path))
    if kept not in result.kept_in:
        result.kept_in.append(kept)


def _place(staging: Path, target: Path, stamp: str, result: RestoreResult) -> None:
    """Move what the staged ``data/`` replaces aside, then rename the staged parts in."""
    kept = target / f"before-restore-{stamp}"
    staged = staging / "data"
    names = sorted(p.name for p in staged.iterdir()) if staged.is_dir() else []
    for name in dict.fromkeys([*names, *REPLACED_EXTRA]):
        _keep(target / name, kept, result)
    for name in names:
        (staged / name).rename(target / name)
    _fsync_dir(target)


def _place_config(
    staging: Path,
    member: str,
    secrets_member: object,
    config: Path,
    stamp: str,
    result: RestoreResult,
) -> None:
    """The config file to ``config`` and its secrets file beside it (as the loader finds
    it); files already there are renamed ``<name>.before-restore-<stamp>``."""
    moves = [(staging / member, config)]
    if isinstance(secrets_member, str) and (staging / secrets_member).is_file():
        moves.append((staging / secrets_member, secrets_path(config)))
    config.parent.mkdir(parents=True, exist_ok=True)
    for source, dest in moves:
        if dest.exists():
            aside = dest.with_name(f"{dest.name}.before-restore-{stamp}")
            dest.rename(aside)
            result.replaced.append(str(dest))
            result.kept_in.append(aside)
        source.rename(dest)
    _fsync_dir(config.parent)


def _record_and_verify(
    result: RestoreResult,
    url: str,
    target: Path,
    clock: Clock,
    archive: Path,
) -> None:
    keys = KeyStore(target)
    device = _load_device_key(keys)
    ident = device_id(_raw_public(device))
    if ident != result.device_id:
        raise _damaged(f"the device key is {ident}, the manifest says {result.device_id}")
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        audit = AuditLog(sessions, device, f"porchlight/{ident}", clock)
        before = verify_log(sessions, audit.origin, audit.verifier)
        audit.append(
            "backup.restore",
            {
                "created": result.created,
                "sha256": _file_sha256(archive),
                "migrated": [result.migration.before, result.migration.after],
                "log_ok_before": before.ok,
            },
            CLI_OWNER,
        )
        after = audit.verify()
        result.audit_ok, result.audit_entries = after.ok, after.entries
    finally:
        engine.dispose()


def _count_segments(result: RestoreResult, db: Path, target: Path) -> None:
    conn = sqlite3.connect(_read_only(db), uri=True)
    try:
        rows = conn.execute(
            "SELECT path FROM segments WHERE state IN ('closed', 'truncated', 'open')"
        ).fetchall()
    except sqlite3.Error:
        rows = []
    finally:
        conn.close()
    result.segments_indexed = len(rows)
    result.segments_present = sum(1 for (path,) in rows if (target / str(path)).is_file())


def _config_notes(config: Path, target: Path) -> list[str]:
    """What the owner must check about the restored config on this box."""
    from nvr.config import load_config

    try:
        cfg = load_config(config)
    except UserError as exc:
        return [f"the restored config {config} does not load here yet: {exc.message}"]
    notes = []
    if cfg.storage.data_dir.absolute() != target:
        notes.append(
            f"the restored config says data_dir {cfg.storage.data_dir}: edit it or run "
            f"with --data-dir {target}"
        )
    tls = cfg.server.tls
    for path in (tls.cert, tls.key):
        if path is not None and not Path(path).exists():
            notes.append(f"the config names the TLS file {path}, which is not on this box")
    return notes
