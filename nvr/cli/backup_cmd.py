"""``nvr backup`` and ``nvr restore``: the box's state in one owner-encrypted file
(docs/design/backup.md, nvr/service/backup.py).

``backup`` needs no passphrase (it encrypts to the owner's public recipients) and works
while the service runs. ``restore`` needs the owner passphrase (``--passphrase-file``) or
the recovery key (``--identity``), checks everything before writing, and refuses a data
directory with owner keys unless ``--force``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from nvr.cli import options
from nvr.clock import SystemClock
from nvr.config import Config
from nvr.config.loader import DEFAULT_SEARCH, locate_config
from nvr.errors import UserError


def _gib(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.2f} GB"


def backup(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="The backup file to write (must not exist).", dir_okay=False
        ),
    ],
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Write config, keys (still wrapped), database, audit log, TLS certificate and sealed
    event records into ONE file encrypted to the owner. Footage is not included."""
    from nvr.service.backup import create_backup

    cfg = options.load(config, data_dir)
    result = create_backup(cfg, locate_config(config), out, SystemClock())
    print(f"backup written: {result.path} ({_gib(result.size)}, {result.files} files)")
    print(f"  device:    {result.device_id}")
    print(f"  database:  revision {result.revision}, {result.audit_entries} audit entries")
    print(f"  sha256:    {result.sha256}")
    print("  encrypted to the owner and the recovery key; opens with the owner passphrase")
    print(f"footage is not in it: copy {cfg.storage.data_dir / 'segments'} alongside (rsync -a)")


def restore(
    archive: Annotated[
        Path, typer.Argument(help="The backup file (from 'nvr backup').", dir_okay=False)
    ],
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="File holding the owner passphrase of the day the backup was made.",
            dir_okay=False,
        ),
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            "-i",
            help="Open with this key file instead: the recovery key (AGE-SECRET-KEY-1...).",
            dir_okay=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Restore into this data directory (default: the one the config names).",
            file_okay=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Write the backed-up config file here (default: $NVR_CONFIG, else "
            "/etc/nvr/nvr.yaml); the data directory is the one this file names now.",
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace a box with owner keys (what is replaced is kept aside)."
        ),
    ] = False,
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey",
            help="Refuse a backup of any other device than this audit verifier key "
            "(from 'nvr audit key' on the old box).",
            metavar="KEY",
        ),
    ] = None,
) -> None:
    """Bring a box back from a backup: checks every file, then restores and migrates."""
    from nvr.keys.passphrase import read_passphrase_file, wipe
    from nvr.service.backup import identities_from, restore_backup

    if passphrase_file is None and identity is None:
        raise UserError(
            "give --passphrase-file (the owner passphrase) or --identity (the recovery key)"
        )
    identity_text = None
    if identity is not None:
        try:
            identity_text = identity.read_bytes().decode("latin-1")
        except OSError as exc:
            raise UserError(f"cannot read {identity}: {exc.strerror}") from None
    buf = read_passphrase_file(passphrase_file) if passphrase_file is not None else None
    try:
        ids = identities_from(archive, None if buf is None else bytes(buf), identity_text)
    finally:
        if buf is not None:
            wipe(buf)
    config_out = _config_target(config)
    result = restore_backup(
        archive,
        ids,
        SystemClock(),
        data_dir=_data_dir_target(data_dir, config_out),
        config_out=config_out,
        force=force,
        vkey=vkey,
    )
    print(f"restored the backup of {result.created} (device {result.device_id})")
    had = f"data directory {result.had_data_dir}, config {result.had_config or 'none'}"
    print(f"  the box had:    {had}")
    print(f"  data directory: {result.data_dir}")
    if result.config is not None:
        print(f"  config:         {result.config}")
    m = result.migration
    if m.changed:
        print(f"  database:       migrated {m.before} -> {m.after}")
    else:
        print(f"  database:       revision {m.after} (current)")
    state = "OK" if result.audit_ok else "FAILED (run 'nvr audit verify')"
    print(f"  audit log:      {state}, {result.audit_entries} entries")
    for kept in result.kept_in:
        print(f"  replaced files kept in {kept}")
    missing = result.segments_indexed - result.segments_present
    print(
        f"  footage:        {result.segments_indexed} segments indexed, "
        f"{result.segments_present} present"
    )
    if missing:
        print(
            f"copy the old box's segments/ folder to {result.data_dir / 'segments'} "
            "(rsync -a) before starting the service; segments still absent then are marked "
            "missing, and come back when their files do"
        )
    for note in result.notes:
        print(f"note: {note}")
    if not result.audit_ok:
        raise UserError("the restored audit log does not verify", hint="run 'nvr audit verify'")


def _config_target(config: Path | None) -> Path:
    """Where the restored config goes: ``--config``, ``$NVR_CONFIG``, or the first place
    the loader looks. Never a path read from the archive (anyone can write one)."""
    if config is not None:
        return config.absolute()
    named = os.environ.get("NVR_CONFIG")
    return Path(named).absolute() if named else DEFAULT_SEARCH[0]


def _data_dir_target(data_dir: Path | None, config: Path) -> Path:
    """``--data-dir``, else the data directory the config at ``config`` names now (an
    installer's fresh config), else the default."""
    if data_dir is not None:
        return data_dir.absolute()
    if config.is_file():
        return options.load(config, None).storage.data_dir.absolute()
    return Config().storage.data_dir


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("restore")(restore)
