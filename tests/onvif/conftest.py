"""Fixtures for the ONVIF tests: PyPI ipycam as a real third-party camera.

- ``ipycam_python`` (session): ``<repo>/.venv-ipycam/bin/python`` with ``ipycam``
  installed, creating that venv (``python -m venv`` + ``pip install ipycam``) if it is
  missing (under a lock: parallel workers share it). ipycam pulls opencv-python 5,
  which must never land in the project's venv (ARCHITECTURE.md pins
  opencv-python-headless 4.x), hence a venv of its own.
  ``deploy/quickstart.sh setup|test`` creates it the same way for CI.
- ``ipycam_factory(netns, credentials=None)``: starts ipycam *inside* ``netns`` (it
  multicasts a Hello and answers WS-Discovery probes, so it must never run on the
  machine's real network), waits for its ``READY`` line and returns the ONVIF port on
  the namespace's 127.0.0.1. The process is stopped after the test (and the namespace
  deletion kills anything left).
- ``run_in_netns(netns, *args)``: runs ``python -m tests.onvif.netns_client ARGS``
  with the project's interpreter inside ``netns`` and returns (exit code, stdout, stderr).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.netns import Netns
from tests.support.procs import ManagedProcess, ProcessRegistry, require

REPO = Path(__file__).resolve().parents[2]
IPYCAM_VENV = REPO / ".venv-ipycam"
IPYCAM_MAIN = Path(__file__).with_name("ipycam_main.py")
IPYCAM_PORT = 8080  # inside a fresh namespace every port is free

StartIpycam = Callable[..., int]
RunInNetns = Callable[..., tuple[int, str, str]]


def _has_ipycam(python: Path) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import ipycam"], capture_output=True, timeout=120, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="session")
def ipycam_python() -> Path:
    python = IPYCAM_VENV / "bin" / "python"
    if _has_ipycam(python):
        return python
    # Parallel workers (pytest-xdist) share the venv: one creates it while holding a lock
    # on the checkout's folder (no lock file left behind), the others wait for it and
    # then find it ready.
    folder = os.open(REPO, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if not _has_ipycam(python):
            _install_ipycam(python)
    finally:
        os.close(folder)  # releases the lock
    return python


def _install_ipycam(python: Path) -> None:
    steps = [
        [sys.executable, "-m", "venv", str(IPYCAM_VENV)],
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "ipycam"],
    ]
    for argv in steps:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            require(f"cannot install ipycam into {IPYCAM_VENV}: {result.stderr.strip()[-300:]}")
    if not _has_ipycam(python):
        require(f"ipycam did not import in {IPYCAM_VENV}")


@pytest.fixture
def ipycam_factory(
    ipycam_python: Path, process_registry: ProcessRegistry, tmp_path: Path
) -> Iterator[StartIpycam]:
    started: list[ManagedProcess] = []

    def start(netns: Netns, credentials: tuple[str, str] | None = None) -> int:
        argv = [str(ipycam_python), str(IPYCAM_MAIN), str(IPYCAM_PORT), *(credentials or ())]
        process = process_registry.start(
            netns.command(argv), log_path=tmp_path / f"ipycam-{len(started)}.log", cwd=tmp_path
        )
        started.append(process)
        process.wait_for_line("READY", timeout=60.0)
        return IPYCAM_PORT

    yield start
    for process in started:
        process.stop(grace=2.0)


@pytest.fixture
def run_in_netns() -> RunInNetns:
    def run(netns: Netns, *args: str, timeout: float = 60.0) -> tuple[int, str, str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        result = netns.run(
            [sys.executable, "-m", "tests.onvif.netns_client", *args],
            check=False,
            timeout=timeout,
            cwd=REPO,
            env=env,
        )
        return result.returncode, result.stdout, result.stderr

    return run
