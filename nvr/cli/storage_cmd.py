"""``nvr storage``: prove, repair and describe the encrypted footage on disk."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from nvr.cli import options
from nvr.errors import UserError
from nvr.service.box import CLI_OWNER
from nvr.storage import check, holds
from nvr.storage.reconcile import reconcile
from nvr.storage.volume import volume_of

app = typer.Typer(
    no_args_is_help=True,
    help="Verify, salvage and describe the encrypted footage (verify and salvage need unlock).",
)


@app.command()
def verify(
    passphrase_file: Path = options.PASSPHRASE_FILE,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Check every segment decrypts and authenticates, and nothing is stored in the clear."""
    with options.passphrase(passphrase_file) as pw, options.box(config, data_dir) as box:
        identities = box.keys.unlock(pw).identities
        store = box.segment_store()
        report = check.verify(store, identities)
        leaks = list(check.scan_plaintext(store.data_dir))
        box.record(
            "storage.verify",
            {
                "closed": report.closed,
                "truncated": report.truncated,
                "problems": len(report.problems),
                "plaintext_files": len(leaks),
            },
            CLI_OWNER,
        )
        typer.echo(
            f"{report.closed} closed and {report.truncated} truncated segments "
            f"authenticated ({report.bytes_checked / 1e6:.1f} MB of footage)."
        )
        for problem in report.problems:
            typer.echo(f"PROBLEM: {problem}")
        for path, offset in leaks:
            typer.echo(f"PLAINTEXT: {path} at byte {offset}")
        if report.problems or leaks:
            raise UserError(
                f"{len(report.problems) + len(leaks)} problems found",
                hint="truncated segments can be repaired with 'nvr storage salvage'",
            )


@app.command()
def salvage(
    passphrase_file: Path = options.PASSPHRASE_FILE,
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Reconcile files and index, then re-seal every truncated segment as a complete one."""
    with options.passphrase(passphrase_file) as pw, options.box(config, data_dir) as box:
        identities = box.keys.unlock(pw).identities
        store = box.segment_store()
        done = reconcile(store)
        for name, items in done.summary().items():
            typer.echo(f"reconcile: {name}: {items}")
        count = 0
        for rec in store.all_records():
            if rec.state == "truncated":
                new = check.reseal(store, rec, identities)
                typer.echo(f"salvaged {rec.camera} #{rec.seq}: {new.path}")
                count += 1
        typer.echo(f"{count} truncated segments salvaged; originals kept in quarantine/.")


@app.command()
def stats(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Footage per camera, from the index (no key needed), and the disk's free space."""
    with options.box(config, data_dir) as box:
        store = box.segment_store()
        rows = check.stats(store)
        if not rows:
            typer.echo("No footage.")
        for row in rows:
            states = ", ".join(f"{n} {s}" for s, n in sorted(row.states.items()))
            typer.echo(
                f"{row.camera}: {row.segments} segments ({states}), "
                f"{row.bytes / 1e6:.1f} MB, {row.oldest:%Y-%m-%d %H:%M} to "
                f"{row.newest:%Y-%m-%d %H:%M} UTC"
            )
        vol = volume_of(store.data_dir)
        quota = box.cfg.storage.quota_bytes(vol.total)
        typer.echo(
            f"Disk: {vol.free / 1e9:.1f} GB free of {vol.total / 1e9:.1f} GB; "
            f"quota: {'none' if quota is None else f'{quota / 1e9:.1f} GB'}"
        )


def _utc(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{text!r} is not a date and time", hint="use ISO 8601, e.g. 2026-11-27T14:00:00Z"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@app.command()
def hold(
    start: str = typer.Option(
        ..., "--from", help="Start of the held range (ISO 8601; UTC if no zone)."
    ),
    end: str = typer.Option(..., "--to", help="End of the held range."),
    reason: str = typer.Option(..., "--reason", help="Why (case, request, insurer ...)."),
    camera: str | None = typer.Option(None, "--camera", help="One camera (default: all)."),
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Place a legal hold: retention keeps this footage until the hold is released."""
    with options.box(config, data_dir) as box:
        hold_id = holds.place_hold(
            box.sessions,
            lambda k, p: box.record(k, p, CLI_OWNER),
            camera=camera,
            start=_utc(start),
            end=_utc(end),
            reason=reason,
            now=box.clock.wall(),
        )
        typer.echo(f"Hold {hold_id} placed.")


@app.command()
def release(
    hold_id: int = typer.Argument(..., help="The hold's number (see 'nvr storage holds')."),
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """Release a legal hold; its footage is subject to retention again."""
    with options.box(config, data_dir) as box:
        holds.release_hold(
            box.sessions, lambda k, p: box.record(k, p, CLI_OWNER), hold_id, box.clock.wall()
        )
        typer.echo(f"Hold {hold_id} released.")


@app.command("holds")
def list_holds(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
) -> None:
    """List legal holds, active and released."""
    with options.box(config, data_dir) as box:
        rows = holds.list_holds(box.sessions)
        if not rows:
            typer.echo("No holds.")
        for h in rows:
            state = (
                "active" if h.released_at is None else f"released {h.released_at:%Y-%m-%d %H:%M}"
            )
            typer.echo(
                f"{h.id}: {h.camera or 'all cameras'} {h.start:%Y-%m-%d %H:%M}"
                f" to {h.end:%Y-%m-%d %H:%M} UTC, {state}: {h.reason}"
            )
