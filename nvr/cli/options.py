"""Options shared by many commands, declared once so they read the same everywhere."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from nvr.config import Config, load_config

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
