"""Child processes started through the support code are awaited and stopped for sure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.procs import ManagedProcess, ProcessRegistry, ProcessStartError, group_alive


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_wait_for_line_returns_the_ready_line(tmp_path: Path) -> None:
    process = ManagedProcess(
        python("import time; print('noise'); print('READY 4242', flush=True); time.sleep(60)"),
        log_path=tmp_path / "log",
    )
    try:
        assert process.wait_for_line("READY ", timeout=30) == "READY 4242"
        assert process.running
    finally:
        process.stop()
    assert process.popen.returncode is not None
    assert not group_alive(process.pid)


def test_child_exiting_before_ready_is_reported_with_its_log(tmp_path: Path) -> None:
    process = ManagedProcess(
        python("import sys; print('bad config', file=sys.stderr); sys.exit(2)"),
        log_path=tmp_path / "log",
    )
    with pytest.raises(ProcessStartError, match=r"exited with status 2[\s\S]*bad config"):
        process.wait_for_line("READY ", timeout=30)
    process.stop()


def test_missing_ready_line_hits_the_deadline(tmp_path: Path) -> None:
    process = ManagedProcess(python("import time; time.sleep(60)"), log_path=tmp_path / "log")
    try:
        with pytest.raises(ProcessStartError, match="no 'READY ' line within"):
            process.wait_for_line("READY ", timeout=0.5)
    finally:
        process.stop()


def test_stop_takes_down_grandchildren_and_a_frozen_child(tmp_path: Path) -> None:
    # The child ignores SIGTERM and leaves a grandchild in its process group.
    code = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('READY', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = ManagedProcess(python(code), log_path=tmp_path / "log")
    process.wait_for_line("READY", timeout=30)
    process.freeze()

    process.stop(grace=0.2)

    assert process.popen.returncode == -9
    assert not group_alive(process.pid)


def test_registry_reports_and_stops_leftovers(tmp_path: Path) -> None:
    registry = ProcessRegistry()
    stopped = registry.start(python("print('READY', flush=True)"), log_path=tmp_path / "a")
    stopped.wait_for_line("READY", timeout=30)
    stopped.stop()
    forgotten = registry.start(python("import time; time.sleep(60)"), log_path=tmp_path / "b")

    assert registry.leftovers() == [forgotten]
    assert registry.stop_all() == [forgotten]
    assert registry.leftovers() == []
    assert not forgotten.running
