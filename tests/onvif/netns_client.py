"""The ONVIF client side of the namespace tests, run *inside* a test namespace.

``python -m tests.onvif.netns_client discover IFACE TIMEOUT`` prints the discovered
devices as JSON; ``probe HOST PORT [USER PASSWORD_FILE]`` prints the probed device as
JSON, or the user error as ``ERROR <class>: <message>`` and exits 1;
``cli ARGS...`` runs ``discover_command`` as the ``nvr cameras discover`` command would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

import typer

from nvr.cli import fail
from nvr.cli.onvif_cmd import discover_command
from nvr.errors import UserError
from nvr.onvif import OnvifError, discover, probe_device


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)  # Secret prints masked


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "discover":
        devices = asyncio.run(discover(args[0], float(args[1])))
        print(json.dumps(_jsonable(devices)))
        return 0
    if command == "probe":
        user = args[2] if len(args) > 2 else None
        password = Path(args[3]).read_text().strip() if len(args) > 3 else None
        try:
            device = asyncio.run(probe_device(args[0], int(args[1]), user, password, timeout=20))
        except OnvifError as exc:
            print(f"ERROR {type(exc).__name__}: {exc}")
            return 1
        print(json.dumps(_jsonable(device)))
        return 0
    if command == "cli":
        app = typer.Typer(add_completion=False)
        app.command("discover")(discover_command)
        app.command("noop", hidden=True)(lambda: None)  # keep "discover" a subcommand
        try:
            app(args=["discover", *args], prog_name="nvr cameras", standalone_mode=False)
        except UserError as exc:
            return fail(exc.message, exc.hint)
        return 0
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
