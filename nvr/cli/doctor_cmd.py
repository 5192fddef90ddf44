"""``nvr doctor``: check this box and the config, and say what to do about each finding.

Read-only apart from a short write test in the data directory (removed again); talks only
to the cameras in the config (nvr/service/doctor.py). Exit 0 when no finding is an error,
2 when one is, 1 on a user error (bad option).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from nvr.cli import options

ERROR_FOUND = 2
_MARK = {"ok": "ok  ", "info": "info", "warning": "WARN", "error": "FAIL"}


def doctor(
    config: Path | None = options.CONFIG,
    data_dir: Path | None = options.DATA_DIR,
    cameras: bool = typer.Option(
        True, "--cameras/--no-cameras", help="Connect to each configured camera (default on)."
    ),
    camera_timeout: float = typer.Option(
        8.0, "--camera-timeout", min=1.0, max=60.0, help="Seconds to wait for each camera."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Check disk, SD card, clock, temperature, cameras, open ports and the config."""
    from nvr.service.doctor import diagnose, worst

    findings = diagnose(config, data_dir, cameras=cameras, camera_timeout=camera_timeout)
    if as_json:
        print(
            json.dumps(
                {"worst": worst(findings), "findings": [asdict(f) for f in findings]}, indent=2
            )
        )
    else:
        for f in findings:
            print(f"[{_MARK[f.severity]}] {f.check}: {f.summary}")
            if f.severity != "ok":
                print(f"       what to do: {f.remedy}")
        counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning")}
        print(f"{counts['error']} error(s), {counts['warning']} warning(s)")
    if worst(findings) == "error":
        raise typer.Exit(ERROR_FOUND)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
