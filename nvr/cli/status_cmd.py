"""``nvr status``: is the service up, where is the dashboard, which certificate should the
browser show, are the keys there, how is each camera doing, how full is the disk.

Read-only (``nvr.service.inspect``): safe to run while the service runs, and as the
service user on an appliance. Exit 0 when nothing needs attention, 3 when something does
(each problem printed with what to do), 1 on a user error (bad config, unreadable data).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from nvr.cli import options

ATTENTION = 3


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


def status(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    port: int | None = options.PORT,
    demo: bool = typer.Option(
        False, "--demo", help="Look at the demo's data directory (what 'nvr demo' uses)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show the service, dashboard URL and TLS fingerprint, keys, cameras and disk."""
    from nvr.config import Config
    from nvr.service.inspect import inspect_box

    if demo:
        cfg = options.with_overrides(
            Config(), data_dir=data_dir or options.demo_data_dir(), bind="127.0.0.1", port=port
        )
    else:
        cfg = options.with_overrides(options.load(config, data_dir), port=port)
    report = inspect_box(cfg, demo=demo)
    if as_json:
        data: dict[str, Any] = asdict(report)
        print(json.dumps(data, default=_json_default, indent=2))
    else:
        lines = [
            f"Service:   {report.service}"
            + (f" (version {report.version})" if report.version else ""),
            f"  last start {_when(report.last_start)}, last clean stop {_when(report.last_stop)}",
            f"Dashboard: {report.dashboard}" + ("" if report.listening else " (not answering)"),
            f"  TLS certificate SHA-256: {report.tls_fingerprint or 'none yet'}",
            *([f"  First run: {report.setup_url}"] if report.setup_url else []),
            f"Keys:      {report.keys}",
            f"Database:  {report.database}",
            f"Data:      {report.data_dir}"
            + (
                f" ({_size(report.disk_free)} free of {_size(report.disk_total)})"
                if report.disk_total
                else ""
            ),
            "Cameras:" if report.cameras else "Cameras:   none configured",
        ]
        for cam in report.cameras:
            state = (
                f"offline since {_when(cam.offline_since)} ({cam.offline_reason})"
                if cam.offline_since
                else f"last footage {_when(cam.last_footage)}"
            )
            note = "" if cam.configured else " [not in the config any more]"
            lines.append(
                f"  {cam.name}{note}: {cam.segments} segments, {_size(cam.footage_bytes)}, {state}"
            )
        for problem in report.problems:
            lines.append(f"! {problem}")
        print("\n".join(lines))
    if report.problems:
        raise typer.Exit(ATTENTION)


def register(app: typer.Typer) -> None:
    app.command("status")(status)
