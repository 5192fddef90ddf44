"""``nvr db``: look at and migrate the database schema.

Which database: ``--url`` if given; else, without ``--config``, the SQLite file in
``--data-dir``; else the config's ``database_url()`` (``--config FILE`` or the default
config, with ``--data-dir`` overriding ``storage.data_dir`` as everywhere). The service
migrates on start-up by itself; these commands are for installers and upgrades by hand.
Output names the database with its password masked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nvr.cli import options
from nvr.db import migrate
from nvr.db.engine import default_sqlite_url
from nvr.secrets import mask_url

app = typer.Typer(
    no_args_is_help=True,
    help="Show and migrate the database schema (SQLite in the data dir, or a URL).",
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Database URL (sqlite:///PATH or postgresql+psycopg://...); overrides the rest.",
        metavar="URL",
    ),
]


def resolve_url(url: str | None, data_dir: Path | None, config: Path | None) -> str:
    """The database the user means: ``--url``; else, without ``--config``, the SQLite file
    in ``--data-dir``; else the config's ``database_url()`` (``--data-dir`` overriding
    ``storage.data_dir`` as for every command)."""
    if url:
        return url
    if config is None and data_dir is not None:
        return default_sqlite_url(data_dir.absolute())
    configured: str = options.load(config, data_dir).database_url()
    return configured


@app.command()
def upgrade(
    revision: Annotated[
        str, typer.Option("--revision", help="Target revision.", metavar="R")
    ] = "head",
    data_dir: Path | None = options.DATA_DIR,
    url: UrlOption = None,
    config: Path | None = options.CONFIG,
) -> None:
    """Migrate the schema up to a revision (default: the newest)."""
    target = resolve_url(url, data_dir, config)
    _report(target, migrate.upgrade(target, revision))


# Unknown options are not errors here so that a relative step reads naturally: '-1'.
@app.command(context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, '-1', or 'base' (empty).")
    ],
    data_dir: Path | None = options.DATA_DIR,
    url: UrlOption = None,
    config: Path | None = options.CONFIG,
) -> None:
    """Migrate the schema down to REVISION. Tables newer than it are dropped, data too."""
    target = resolve_url(url, data_dir, config)
    _report(target, migrate.downgrade(target, revision))


@app.command()
def current(
    data_dir: Path | None = options.DATA_DIR,
    url: UrlOption = None,
    config: Path | None = options.CONFIG,
) -> None:
    """Print the database's schema revision and whether it is the newest."""
    target = resolve_url(url, data_dir, config)
    revision = migrate.current(target)
    newest = migrate.head()
    if revision is None:
        state = f"empty (no schema); newest is {newest}, run 'nvr db upgrade'"
    elif revision == newest:
        state = f"{revision} (head)"
    elif not migrate.is_known(revision):
        state = f"{revision}, unknown to this version (newest known: {newest}): a newer Porchlight"
    else:
        state = f"{revision}; newest is {newest}, run 'nvr db upgrade'"
    typer.echo(f"{mask_url(target)}: {state}")


def _report(target: str, migration: migrate.Migration) -> None:
    shown = mask_url(target)
    after = migration.after or "base (empty)"
    if migration.changed:
        typer.echo(f"{shown}: {migration.before or 'base (empty)'} -> {after}")
    else:
        typer.echo(f"{shown}: already at {after}")
