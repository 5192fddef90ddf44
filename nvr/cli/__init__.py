"""The ``nvr`` command line: one Typer app, one sub-app per concern.

Every command follows the same rules: ``--help`` everywhere; ``--data-dir`` on anything that
touches the data directory; ``--passphrase-file`` (never a passphrase argument) on anything
that needs a passphrase; exit 0 on success and 1 on a user error, printed as one line plus
a hint. Tracebacks are for bugs only.
"""

from __future__ import annotations

import sys

import typer

from nvr import __version__
from nvr.cli import (
    audit_cmd,
    backup_cmd,
    bench_cmd,
    cameras_cmd,
    config_cmd,
    db_cmd,
    keys_cmd,
    motion_cmd,
    onvif_cmd,
    service_cmd,
    share_cmd,
    status_cmd,
    storage_cmd,
)
from nvr.errors import UserError

app = typer.Typer(
    name="nvr",
    help="Porchlight: a private, local video recorder for doorbell cameras.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
cameras_cmd.app.command("discover")(onvif_cmd.discover_command)
app.add_typer(cameras_cmd.app, name="cameras")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(storage_cmd.app, name="storage")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(motion_cmd.app, name="motion")
service_cmd.register(app)
share_cmd.register(app)
status_cmd.register(app)
backup_cmd.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nvr {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Porchlight: a private, local video recorder for doorbell cameras."""


def fail(message: str, hint: str | None = None) -> int:
    """Print a user error the house way: one line (one per problem, for a config with
    several), then an optional hint. Returns exit 1."""
    for line in message.splitlines() or [""]:
        print(f"nvr: error: {line}", file=sys.stderr)
    if hint:
        print(f"nvr: hint: {hint}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nvr`` console script and ``python -m nvr``."""
    try:
        result = app(args=argv, prog_name="nvr", standalone_mode=False)
    except UserError as exc:
        return fail(exc.message, exc.hint)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("nvr: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as exc:
        # Typer's (vendored Click) usage errors: bad option, missing argument, no such command.
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        ctx = getattr(exc, "ctx", None)
        hint = f"see '{ctx.command_path} --help'" if ctx is not None else None
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return fail(message, hint)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
