"""``nvr serve`` and ``nvr demo``: run the service in the foreground until SIGTERM/Ctrl+C."""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from nvr.auth.users import normalize_name
from nvr.cli import options
from nvr.clock import SystemClock
from nvr.config import Config
from nvr.logs import setup_logging
from nvr.service.box import CLI_OWNER, Box

if TYPE_CHECKING:
    # The runner brings the web app (FastAPI, Starlette, Jinja2, uvicorn): imported by
    # _run only, so the other ``nvr`` commands start without it.
    from nvr.service.runner import Ready


class DemoScene(enum.StrEnum):
    """``nvr demo --scene``: the values of the config's ``demo.scene``."""

    VISITORS = "visitors"
    FACES = "faces"


def _announce(ready: Ready) -> None:
    lines = [
        "Porchlight is running" + (" with the demo doorbell." if ready.demo else "."),
        f"  Dashboard: {ready.url}",
        f"  TLS certificate SHA-256: {ready.tls_fingerprint}",
        "  (the certificate is self-signed unless you configured your own: check that your",
        "   browser shows the same fingerprint before you accept it)",
    ]
    if ready.setup_url is not None:
        lines += [
            f"  First run: set up the owner at {ready.setup_url}",
            "  (from this network; the code is also in the data directory's setup-code file)",
        ]
    if ready.metrics_url is not None:
        lines.append(f"  Metrics: {ready.metrics_url} (this box only)")
    lines += [
        "Press Ctrl+C to stop.",
    ]
    print("\n".join(lines), flush=True)


def _demo_keys(passphrase_file: Path, work_factor: int | None, owner: str) -> Callable[[Box], None]:
    """First start of a demo with ``--passphrase-file``: create the owner keys with it, and
    the owner's account (sign in as ``owner`` with that passphrase)."""

    def create(box: Box) -> None:
        if box.keys.exists():
            return
        with options.passphrase(passphrase_file) as pw:
            recovery, _ = box.create_owner_keys(pw, work_factor, CLI_OWNER, owner)
        print(
            f"Demo owner keys created (recovery key, shown once: {recovery.to_string()})",
            flush=True,
        )
        print(f"Sign in as {normalize_name(owner)!r} with the passphrase.", flush=True)

    return create


def _run(
    cfg: Config,
    *,
    demo: bool,
    on_box: Callable[[Box], None] | None = None,
    config_path: Path | None = None,
) -> None:
    from nvr.service.memory import limit_malloc_arenas
    from nvr.service.runner import Service

    limit_malloc_arenas()  # before any camera thread exists
    setup_logging(cfg.logging.level, cfg.logging.format)
    service = Service(
        cfg,
        clock=SystemClock(),
        demo=demo,
        on_ready=_announce,
        on_box=on_box,
        config_path=config_path,
    )
    asyncio.run(service.run())
    print("Porchlight stopped.", file=sys.stderr, flush=True)


def serve(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    bind: str | None = options.BIND,
    port: int | None = options.PORT,
) -> None:
    """Run the recorder and the dashboard (HTTPS) with the installer's config."""
    from nvr.config import locate_config
    from nvr.config.loader import DEFAULT_SEARCH

    cfg = options.with_overrides(
        options.load(config, None), data_dir=data_dir, bind=bind, port=port
    )
    # Cameras added in the dashboard go to the config file in use, or, with none, to the
    # first place 'nvr serve' looks for one (docs/design/first-run.md).
    _run(cfg, demo=False, config_path=locate_config(config) or DEFAULT_SEARCH[0])


def demo(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        dir_okay=False,
        help="Config file to use as well (by default the demo uses none, whatever is installed).",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        file_okay=False,
        help="Data directory (default: $XDG_DATA_HOME/porchlight-demo).",
    ),
    bind: str = typer.Option("127.0.0.1", "--bind", help="Address to listen on."),
    port: int | None = options.PORT,
    passphrase_file: Path | None = typer.Option(
        None,
        "--passphrase-file",
        dir_okay=False,
        help="Create the demo's owner keys with this passphrase on first start (mode 0600).",
    ),
    work_factor: int | None = options.WORK_FACTOR,
    owner: str = options.OWNER,
    scene: DemoScene | None = typer.Option(
        None,
        "--scene",
        help="What the demo doorbell shows (the config's demo.scene): visitors, or faces"
        " (a visitor looks into the camera every 20 s, for trying redaction and sharing).",
    ),
) -> None:
    """Run the service with the built-in demo doorbell (a synthetic porch, made locally)."""
    from nvr.config import load_config
    from nvr.service.camera_admin import default_config_path

    # Without --config, cameras added in the demo's dashboard live in <data_dir>/nvr.yaml,
    # which the next 'nvr demo' with that data directory reads again.
    folder = data_dir or options.demo_data_dir()
    config_path = config if config is not None else default_config_path(folder.absolute())
    cfg = load_config(config_path) if config is not None or config_path.is_file() else Config()
    cfg = options.with_overrides(cfg, data_dir=folder, bind=bind, port=port)
    if scene is not None:
        cfg = cfg.model_copy(update={"demo": cfg.demo.model_copy(update={"scene": scene.value})})
    on_box = (
        _demo_keys(passphrase_file, work_factor, owner) if passphrase_file is not None else None
    )
    _run(cfg, demo=True, on_box=on_box, config_path=config_path)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("demo")(demo)
