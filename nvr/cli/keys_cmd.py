"""``nvr keys``: create and manage the owner's keys (docs/design/keys.md).

Every passphrase comes from a file (``--passphrase-file``); every change is written to the
audit log with public keys only.
"""

from __future__ import annotations

from pathlib import Path

import typer

from nvr.auth.users import normalize_name
from nvr.cli import options
from nvr.keys.passphrase import calibrate_log_n, check_strength
from nvr.service.box import CLI_OWNER

app = typer.Typer(
    no_args_is_help=True,
    help="Create and manage the owner's keys: init, passphrase, rotate, members, export.",
)


def _log_n(work_factor: int | None) -> int:
    return work_factor if work_factor is not None else calibrate_log_n()


def _show_recovery(identity: str, recovery_file: Path | None) -> None:
    if recovery_file is not None:
        from nvr.keys.files import write_private

        write_private(recovery_file, (identity + "\n").encode())
        typer.echo(f"Recovery key written to {recovery_file} (mode 0600). Move it off this box.")
        return
    typer.echo(
        "\nRECOVERY KEY: print or save it now, somewhere other than this box. It is shown\n"
        "only once and it opens all footage recorded from now on if the passphrase is lost:\n\n"
        f"    {identity}\n\n"
        "To recover a segment with only the age tool: age -d -i recovery.key FILE.age\n"
    )


@app.command()
def init(
    passphrase_file: Path = options.PASSPHRASE_FILE,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    work_factor: int | None = options.WORK_FACTOR,
    recovery_file: Path | None = typer.Option(
        None,
        "--recovery-file",
        dir_okay=False,
        help="Write the recovery key to this file (0600) instead of printing it.",
    ),
    owner: str = options.OWNER,
) -> None:
    """Create the owner keys and the owner's account; print the recovery key once."""
    with options.passphrase(passphrase_file) as pw, options.box(config, data_dir) as box:
        recovery, log_n = box.create_owner_keys(pw, work_factor, CLI_OWNER, owner)
        listed = box.keys.recipient_list()
        typer.echo(f"Owner keys created in {box.keys.dir} (scrypt work factor 2^{log_n}).")
        typer.echo(f"The owner signs in to the dashboard as {normalize_name(owner)!r}")
        typer.echo("with this passphrase.")
        typer.echo(f"Owner recipient: {listed['owner']}")
        _show_recovery(recovery.to_string(), recovery_file)


@app.command()
def passphrase(
    passphrase_file: Path = options.PASSPHRASE_FILE,
    new_passphrase_file: Path = typer.Option(
        ..., "--new-passphrase-file", dir_okay=False, help="File holding the new passphrase."
    ),
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    work_factor: int | None = options.WORK_FACTOR,
) -> None:
    """Change the owner passphrase (rewraps the identity; footage is untouched)."""
    with (
        options.passphrase(passphrase_file) as old,
        options.passphrase(new_passphrase_file) as new,
        options.box(config, data_dir) as box,
    ):
        check_strength(new)
        log_n = _log_n(work_factor)
        box.keys.change_passphrase(old, new, log_n=log_n)
        box.record("keys.passphrase", {"work_factor": log_n}, CLI_OWNER)
        typer.echo("Passphrase changed.")


@app.command()
def rotate(
    passphrase_file: Path = options.PASSPHRASE_FILE,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    work_factor: int | None = options.WORK_FACTOR,
    recovery_file: Path | None = typer.Option(
        None, "--recovery-file", dir_okay=False, help="Write the new recovery key here."
    ),
) -> None:
    """New owner and recovery identities for new footage; old footage stays readable."""
    with options.passphrase(passphrase_file) as pw, options.box(config, data_dir) as box:
        recovery = box.keys.rotate(pw, log_n=_log_n(work_factor), now=box.clock.wall())
        listed = box.keys.recipient_list()
        box.record("keys.rotate", {"recipients": {k: str(v) for k, v in listed.items()}}, CLI_OWNER)
        typer.echo(f"Keys rotated. New owner recipient: {listed['owner']}")
        _show_recovery(recovery.to_string(), recovery_file)


@app.command("add-member")
def add_member(
    name: str = typer.Argument(..., help="Member name (letters, digits, '-', '_')."),
    passphrase_file: Path = options.PASSPHRASE_FILE,
    member_passphrase_file: Path = typer.Option(
        ..., "--member-passphrase-file", dir_okay=False, help="The member's own passphrase."
    ),
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    work_factor: int | None = options.WORK_FACTOR,
) -> None:
    """Add a household member as a recipient of new footage."""
    with (
        options.passphrase(passphrase_file) as pw,
        options.passphrase(member_passphrase_file) as member_pw,
        options.box(config, data_dir) as box,
    ):
        check_strength(member_pw, [name])
        recipient = box.keys.add_member(
            pw, name, member_pw, log_n=_log_n(work_factor), now=box.clock.wall()
        )
        box.record("keys.add_member", {"member": name, "recipient": str(recipient)}, CLI_OWNER)
        typer.echo(f"Member {name} added; new footage is encrypted to them too.")


@app.command("remove-member")
def remove_member(
    name: str = typer.Argument(..., help="Member name."),
    passphrase_file: Path = options.PASSPHRASE_FILE,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Stop encrypting new footage to a member (old footage is not re-encrypted)."""
    with options.passphrase(passphrase_file) as pw, options.box(config, data_dir) as box:
        box.keys.remove_member(pw, name, now=box.clock.wall())
        box.record("keys.remove_member", {"member": name}, CLI_OWNER)
        typer.echo(f"Member {name} removed from the recipients of new footage.")


@app.command("export-identity")
def export_identity(
    passphrase_file: Path = options.PASSPHRASE_FILE,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Print the owner's AGE-SECRET-KEY-1… identity to stdout (logged)."""
    with options.passphrase(passphrase_file) as pw, options.box(config, data_dir) as box:
        identity = box.keys.export_identity(pw)
        box.record("keys.export_identity", {}, CLI_OWNER)
        typer.echo(identity)


@app.command()
def show(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Show the public side: recipients of new footage, members, device key id."""
    with options.box(config, data_dir) as box:
        typer.echo(f"Device: {box.device_id}")
        if not box.keys.exists():
            typer.echo("Owner keys: none (create them with 'nvr keys init')")
            return
        for name, recipient in box.keys.recipient_list().items():
            typer.echo(f"{name}: {recipient}")
