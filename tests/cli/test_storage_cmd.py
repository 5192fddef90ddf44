"""``nvr storage verify | salvage | stats`` on a real data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from nvr.clock import SystemClock
from nvr.config import Config
from nvr.crypto import CHUNK_SIZE
from nvr.service.box import open_box
from tests.cli.conftest import Run

OWNER = "sunny-Meadow-42-quietly"


def footage(data_dir: Path, truncated: bool) -> None:
    cfg = Config()
    cfg = cfg.model_copy(update={"storage": cfg.storage.model_copy(update={"data_dir": data_dir})})
    box = open_box(cfg, SystemClock())
    try:
        store = box.segment_store()
        seg = store.open_segment("porch", box.clock.wall())
        seg.write(b"f" * (CHUNK_SIZE + 5))
        seg.close(box.clock.wall())
        if truncated:
            seg = store.open_segment("porch", box.clock.wall())
            seg.write(b"t" * (CHUNK_SIZE * 2 + 5))
            seg.file.abandon()
    finally:
        box.close()


def test_verify_salvage_stats(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    pw = str(secret_file("pw", OWNER))
    assert (
        nvr(
            "keys", "init", "--passphrase-file", pw, "--data-dir", str(data), "--work-factor", "15"
        )[0]
        == 0
    )
    footage(data, truncated=True)
    code, out, err = nvr("storage", "verify", "--passphrase-file", pw, "--data-dir", str(data))
    assert code == 1
    assert "PROBLEM: porch #1" in out
    assert "open" in out
    assert err.startswith("nvr: error: 1 problems found")
    code, out, _ = nvr("storage", "salvage", "--passphrase-file", pw, "--data-dir", str(data))
    assert code == 0
    assert "reconcile: truncated: 1" in out
    assert "1 truncated segments salvaged" in out
    code, out, _ = nvr("storage", "verify", "--passphrase-file", pw, "--data-dir", str(data))
    assert (code, out.splitlines()[0].split(" (")[0]) == (
        0,
        "2 closed and 0 truncated segments authenticated",
    )
    code, out, _ = nvr("storage", "stats", "--data-dir", str(data))
    assert code == 0
    assert out.startswith("porch: 2 segments (2 closed)")
    assert "GB free" in out


def test_verify_needs_the_passphrase(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    pw = str(secret_file("pw", OWNER))
    nvr("keys", "init", "--passphrase-file", pw, "--data-dir", str(data), "--work-factor", "15")
    wrong = str(secret_file("wrong", "not-the-Right-one-at-all-33"))
    code, _, err = nvr("storage", "verify", "--passphrase-file", wrong, "--data-dir", str(data))
    assert (code, err.splitlines()[0]) == (1, "nvr: error: wrong passphrase")


def test_holds_are_placed_listed_released_and_audited(
    nvr: Run, secret_file: Callable[[str, str], Path], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    pw = str(secret_file("pw", OWNER))
    nvr("keys", "init", "--passphrase-file", pw, "--data-dir", str(data), "--work-factor", "15")
    footage(data, truncated=False)
    code, out, _ = nvr(
        "storage",
        "hold",
        "--from",
        "2026-11-27T10:00:00Z",
        "--to",
        "2026-11-27T11:00:00",
        "--reason",
        "case 42",
        "--camera",
        "porch",
        "--data-dir",
        str(data),
    )
    assert (code, out) == (0, "Hold 1 placed.\n")
    code, out, _ = nvr("storage", "holds", "--data-dir", str(data))
    assert out == "1: porch 2026-11-27 10:00 to 2026-11-27 11:00 UTC, active: case 42\n"
    assert nvr("storage", "release", "1", "--data-dir", str(data))[0] == 0
    code, _, err = nvr("storage", "release", "1", "--data-dir", str(data))
    assert (code, err.splitlines()[0][:40]) == (1, "nvr: error: hold 1 was already released ")
    code, _, err = nvr(
        "storage",
        "hold",
        "--from",
        "yesterday",
        "--to",
        "now",
        "--reason",
        "x",
        "--data-dir",
        str(data),
    )
    assert (code, err.splitlines()[0]) == (1, "nvr: error: 'yesterday' is not a date and time")
    code, _, err = nvr(
        "storage",
        "hold",
        "--from",
        "2026-11-27T10:00:00Z",
        "--to",
        "2026-11-27T11:00:00Z",
        "--reason",
        "x",
        "--camera",
        "nope",
        "--data-dir",
        str(data),
    )
    assert (code, err.splitlines()[0]) == (
        1,
        "nvr: error: no camera named 'nope' has ever recorded here",
    )
    code, out, _ = nvr("audit", "log", "--kind", "hold", "--data-dir", str(data))
    assert "hold.place" in out
    assert "hold.release" in out
