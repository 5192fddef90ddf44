"""``nvr config``: check a config file, print the config JSON Schema.

``nvr config check [FILE]`` validates FILE (default: the file the service would use) and
prints ``FILE: OK (N cameras)``, or raises ``ConfigError`` listing every problem.
``nvr config schema [--output FILE]`` prints (or writes) the JSON Schema generated from the
models; ``config/nvr.schema.json`` is its output, kept in sync by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nvr.config import load_config, locate_config
from nvr.config.loader import DEFAULT_SEARCH
from nvr.config.schema import schema_text
from nvr.errors import UserError

app = typer.Typer(
    no_args_is_help=True,
    help="Check the config file; print its JSON Schema.",
)


@app.command("check")
def check(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Config file to check. Default: $NVR_CONFIG, else "
            + ", else ".join(str(p) for p in DEFAULT_SEARCH)
            + ".",
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """Validate a config file and report every problem, each with its line."""
    path = locate_config(file, search=DEFAULT_SEARCH)
    if path is None:
        looked = ", ".join(["$NVR_CONFIG", *(str(p) for p in DEFAULT_SEARCH)])
        raise UserError(
            f"no config file found (looked at {looked})",
            hint="copy config/nvr.example.yaml to /etc/nvr/nvr.yaml, or name the file",
        )
    config = load_config(path)
    count = len(config.cameras)
    typer.echo(f"{path}: OK ({count} camera{'' if count == 1 else 's'})")


@app.command("schema")
def schema(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the schema to FILE instead of stdout."
        ),
    ] = None,
) -> None:
    """Print the JSON Schema of the config file (for editors and other tools)."""
    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {output}: {exc.strerror}") from None
