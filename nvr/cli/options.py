"""Options shared by many commands, declared once so they read the same everywhere."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import typer

from nvr.clock import SystemClock
from nvr.config import Config, load_config
from nvr.keys.passphrase import read_passphrase_file, wipe
from nvr.service.box import Box, open_box

CONFIG = typer.Option(
    None,
    "--config",
    "-c",
    help="Config file (else $NVR_CONFIG, /etc/nvr/nvr.yaml, ./config/nvr.yaml).",
    dir_okay=False,
)
DATA_DIR = typer.Option(
    None, "--data-dir", help="Data directory (overrides storage.data_dir).", file_okay=False
)
BIND = typer.Option(None, "--bind", help="Address to listen on (overrides server.bind).")
PORT = typer.Option(
    None, "--port", min=0, max=65535, help="HTTPS port (overrides server.port; 0 = any free port)."
)


def with_overrides(
    cfg: Config, *, data_dir: Path | None = None, bind: str | None = None, port: int | None = None
) -> Config:
    """The config with command-line overrides applied (the file is never rewritten)."""
    if data_dir is not None:
        cfg = cfg.model_copy(
            update={"storage": cfg.storage.model_copy(update={"data_dir": data_dir.absolute()})}
        )
    server: dict[str, object] = {}
    if bind is not None:
        server["bind"] = bind
    if port is not None:
        server["port"] = port
    if server:
        cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update=server)})
    return cfg


def load(config: Path | None, data_dir: Path | None) -> Config:
    """Load the config the usual way and apply ``--data-dir``."""
    return with_overrides(load_config(config), data_dir=data_dir)


def demo_data_dir() -> Path:
    """Where ``nvr demo`` keeps its footage unless told otherwise: apart from a real install."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "porchlight-demo"


PASSPHRASE_FILE = typer.Option(
    ...,
    "--passphrase-file",
    help="File holding the owner passphrase (mode 0600). Never give a passphrase as an argument.",
    dir_okay=False,
)
OWNER = typer.Option(
    "owner",
    "--owner",
    metavar="NAME",
    help="The owner's sign-in name for the dashboard (the passphrase is the password).",
)
WORK_FACTOR = typer.Option(
    None,
    "--work-factor",
    min=15,
    max=22,
    help="scrypt work factor (log2 N) for wrapping keys; default: calibrated to ~1 s here.",
)


@contextlib.contextmanager
def box(config: Path | None, data_dir: Path | None) -> Iterator[Box]:
    """The box (database, keys, audit log) of the config and data directory given."""
    opened = open_box(load(config, data_dir), SystemClock())
    try:
        yield opened
    finally:
        opened.close()


@contextlib.contextmanager
def passphrase(path: Path) -> Iterator[bytes]:
    """The passphrase in ``path``, wiped from our buffer afterwards."""
    buf = read_passphrase_file(path)
    try:
        yield bytes(buf)
    finally:
        wipe(buf)


# `nvr bench ...`: the options every benchmark spells the same way.
BENCH_JSON = typer.Option(
    "--json",
    help="Also write the figures and the machine as JSON.",
    metavar="FILE",
    dir_okay=False,
)
BENCH_REPEAT = typer.Option(
    "--repeat", min=1, help="Runs of each measurement (the median is reported).", metavar="N"
)
BENCH_DIR = typer.Option(
    "--dir",
    help="Folder to work in; put it on the data directory's filesystem. "
    "Default: the system temp folder.",
    file_okay=False,
    metavar="DIR",
)
