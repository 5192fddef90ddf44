"""``nvr status`` against real data directories: never started, crashed, running.

The box is a real one (``open_box``: migrations, keys, audit log); the rows a running
service would have written (a run, a segment, an open gap) are written through the same
repository functions and models the service uses. "Running" is a real listening socket
on the configured port: status only connects to it.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nvr.clock import SystemClock
from nvr.config import load_config
from nvr.db import repo
from nvr.db.models import Gap, Segment
from nvr.service.box import CLI_OWNER, open_box
from nvr.web import tls
from tests.cli.conftest import Run

PASSPHRASE = b"sunny-Meadow-42-quietly"
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "nvr.yaml"
    path.write_text(
        f"server:\n  bind: 127.0.0.1\n  port: {port}\nstorage:\n  data_dir: {tmp_path / 'data'}\n"
        "cameras:\n  - name: porch\n    main_url: rtsp://127.0.0.1:8554/porch\n"
    )
    return path


def recorded_box(config: Path, *, open_gap: bool, stopped: bool = False) -> str:
    """Keys, a certificate, a run (stopped cleanly or not), 2 segments of 'porch'; the
    cert's fingerprint."""
    cfg = load_config(config)
    cfg.storage.data_dir.mkdir(mode=0o700)
    box = open_box(cfg, SystemClock())
    try:
        box.create_owner_keys(PASSPHRASE, 15, CLI_OWNER, "alex")
        with box.sessions.begin() as session:
            run = repo.start_run(session, "0.1.0", T0)
            if stopped:
                repo.finish_run(session, run, T0 + timedelta(minutes=5))
            ids = repo.ensure_cameras(session, ["porch"], T0)
            for seq in range(2):
                start = T0 + timedelta(seconds=4 * seq)
                session.add(
                    Segment(
                        camera_id=ids["porch"],
                        seq=seq,
                        path=f"porch/{seq}.mp4.age",
                        start_time=start,
                        end_time=start + timedelta(seconds=4),
                        size_bytes=1000,
                        state="closed",
                    )
                )
            if open_gap:
                session.add(
                    Gap(
                        camera_id=ids["porch"],
                        start_time=T0 + timedelta(seconds=8),
                        end_time=None,
                        reason="reconnect",
                    )
                )
    finally:
        box.close()
    made = tls.ensure_self_signed(cfg.storage.data_dir / "tls", ["localhost"], T0)
    return made.fingerprint


def test_a_data_directory_the_service_never_used(nvr: Run, tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port())
    code, out, err = nvr("status", "-c", str(config))
    assert (code, err) == (3, "")
    assert "Service:   never started" in out
    assert "(not answering)" in out
    assert "! data directory" in out
    assert "porch: 0 segments" in out


def test_a_box_whose_service_died_then_one_that_runs(nvr: Run, tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    fingerprint = recorded_box(config, open_gap=True)

    code, out, _ = nvr("status", "-c", str(config))
    assert code == 3
    assert "Service:   crashed (version 0.1.0)" in out
    assert f"TLS certificate SHA-256: {fingerprint}" in out
    assert "Keys:      ready" in out
    assert "porch: 2 segments, 2.0 KB, offline since 2026-11-28 09:00:08 UTC (reconnect)" in out
    assert "! the last run did not stop cleanly" in out

    with socket.socket() as listener:  # the dashboard port answers: the service is up
        listener.bind(("127.0.0.1", port))
        listener.listen()
        code, out, _ = nvr("status", "-c", str(config), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["service"] == "running"
    assert report["listening"] is True
    assert report["tls_fingerprint"] == fingerprint
    assert report["problems"] == []
    (porch,) = report["cameras"]
    assert (porch["name"], porch["segments"], porch["footage_bytes"]) == ("porch", 2, 2000)
    assert porch["offline_since"] == "2026-11-28T09:00:08+00:00"


def test_a_clean_stop_and_a_camera_no_longer_configured(nvr: Run, tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port())
    recorded_box(config, open_gap=False, stopped=True)
    config.write_text(config.read_text().replace("name: porch", "name: garden"))
    code, out, _ = nvr("status", "-c", str(config))
    assert code == 0, out
    assert "Service:   stopped (version 0.1.0)" in out
    assert "last clean stop 2026-11-28 09:05:00 UTC" in out
    assert "garden: 0 segments" in out
    assert "porch [not in the config any more]: 2 segments" in out
    assert "last footage 2026-11-28 09:00:08 UTC" in out


def test_a_box_waiting_for_its_first_run_shows_the_setup_link(nvr: Run, tmp_path: Path) -> None:
    from nvr.service.inspect import SETUP_CODE_FILE
    from nvr.web.setup import CODE_FILE

    assert SETUP_CODE_FILE == CODE_FILE  # the service writes the file status reads
    port = free_port()
    config = write_config(tmp_path, port)
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / CODE_FILE).write_text("ABCD-EFGH\n")
    code, out, _ = nvr("status", "-c", str(config), "--port", str(port))
    assert code == 3
    assert f"  First run: https://127.0.0.1:{port}/setup?code=ABCD-EFGH" in out
    assert "! no owner yet: finish the first run at" in out
    assert "owner keys missing" not in out  # one problem, said once
