"""Pure parts of the service runner: data directory checks, URLs, certificate names."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.config import parse_config_text
from nvr.errors import UserError
from nvr.service.runner import cert_hostnames, prepare_data_dir, public_url
from tests.support.procs import require


def test_data_dir_is_created_private(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    prepare_data_dir(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_data_dir_that_cannot_be_created_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UserError, match="cannot create data directory") as info:
        prepare_data_dir(blocker / "data")
    assert info.value.hint is not None
    assert "--data-dir" in info.value.hint


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable for this process: a read-only bind mount under root (which
    ignores mode bits), mode 0500 otherwise."""
    if os.geteuid() != 0:
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(0o700)
        return
    mounted = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    require(None if mounted.returncode == 0 else f"cannot bind-mount: {mounted.stderr!r}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_read_only_data_dir_is_a_user_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with read_only(data), pytest.raises(UserError, match=r"read-only filesystem|not writable"):
        prepare_data_dir(data)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0", "https://127.0.0.1:8443/"),
        ("127.0.0.1", "https://127.0.0.1:8443/"),
        ("192.0.2.5", "https://192.0.2.5:8443/"),
        ("::", "https://[::1]:8443/"),
        ("fd00::5", "https://[fd00::5]:8443/"),
    ],
)
def test_public_url(bind: str, url: str) -> None:
    assert public_url(bind, 8443) == url


def test_cert_names_cover_loopback_and_a_specific_bind() -> None:
    names = cert_hostnames("192.0.2.5")
    assert names[0] == "192.0.2.5"
    assert {"localhost", "127.0.0.1", "::1"} <= set(names)
    assert "0.0.0.0" not in cert_hostnames("0.0.0.0")


def test_demo_runs_only_without_cameras_by_default() -> None:
    empty = parse_config_text("", "nvr.yaml")
    one = parse_config_text(
        "cameras:\n  - name: porch\n    main_url: rtsp://192.0.2.7/\n", "nvr.yaml"
    )
    off = parse_config_text("demo:\n  enabled: 'off'\n", "nvr.yaml")
    assert empty.demo_wanted()
    assert not one.demo_wanted()
    assert not off.demo_wanted()
