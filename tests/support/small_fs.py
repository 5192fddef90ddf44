"""A size-limited tmpfs, for tests that fill a disk to the brim.

``small_fs_factory(size_mb) -> Path`` mounts a fresh tmpfs of that size (mode 0700) under
the test's tmp_path and unmounts it afterwards. Mounting needs root: elsewhere the tests
skip with that reason (and fail in CI, which runs as root; see ``procs.require``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.procs import require

SmallFsFactory = Callable[[int], Path]


@pytest.fixture
def small_fs_factory(tmp_path: Path) -> Iterator[SmallFsFactory]:
    mounts: list[Path] = []

    def make(size_mb: int) -> Path:
        mount = tmp_path / f"small{len(mounts)}"
        mount.mkdir()
        if os.geteuid() != 0:
            require("mounting a size-limited tmpfs needs root")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
        )
        require(None if done.returncode == 0 else f"cannot mount tmpfs: {done.stderr.strip()}")
        mounts.append(mount)
        return mount

    try:
        yield make
    finally:
        for mount in mounts:
            subprocess.run(["umount", "-l", str(mount)], check=True)
