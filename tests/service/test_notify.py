"""sd_notify and the watchdog policy (nvr.service.notify), on a real datagram socket, and
the recorder's progress that the watchdog reads (a recorder thread really blocked).

The whole service under a watchdog, with a disk that really hangs, is
tests/deploy/test_watchdog.py."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nvr.capture import CapturedPacket, Subscription
from nvr.clock import FakeClock
from nvr.record.recorder import Recorder
from nvr.service.notify import SystemdNotifier, Watchdog, watchdog_seconds
from nvr.storage.segments import SegmentStore


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    yield str(path), sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    """Every datagram waiting on ``sock``, each as one string."""
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(5)
    return out


def test_notifier_sends_one_datagram_of_assignments(listener: tuple[str, socket.socket]) -> None:
    address, sock = listener
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": address})
    assert notifier.enabled
    assert notifier.send("READY=1", "STATUS=serving https://127.0.0.1:8443/")
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving https://127.0.0.1:8443/"


def test_notifier_reaches_an_abstract_socket() -> None:
    name = f"porchlight-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert SystemdNotifier(f"@{name}").send("WATCHDOG=1")
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_notify_socket_or_with_a_dead_one_nothing_fails(tmp_path: Path) -> None:
    assert not SystemdNotifier.from_env({}).enabled
    assert SystemdNotifier.from_env({}).send("READY=1") is False
    gone = SystemdNotifier(str(tmp_path / "no-such.sock"))
    assert gone.send("READY=1") is False  # logged once, never raised
    assert gone.send("WATCHDOG=1") is False


def test_watchdog_period_from_systemds_environment() -> None:
    assert watchdog_seconds({}) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "60000000"}) == 60.0
    mine = str(os.getpid())
    assert watchdog_seconds({"WATCHDOG_USEC": "6000000", "WATCHDOG_PID": mine}) == 6.0
    # Meant for another process (a parent that exec'd us without clearing it): not ours.
    assert watchdog_seconds({"WATCHDOG_USEC": "6000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "soon"}) is None


def test_watchdog_pings_only_while_nothing_is_stalled(
    listener: tuple[str, socket.socket],
) -> None:
    address, sock = listener
    stalled: list[str] = []
    asked: list[float] = []

    def check(limit: float) -> list[str]:
        asked.append(limit)
        return list(stalled)

    dog = Watchdog(SystemdNotifier(address), 60.0, check)
    assert (dog.interval, dog.stall_after) == (15.0, 30.0)
    dog.tick()
    assert received(sock) == ["STATUS=running: no recorder stalled", "WATCHDOG=1"]
    dog.tick()
    assert received(sock) == ["WATCHDOG=1"]
    stalled.append("recorder front-door")
    dog.tick()
    dog.tick()
    assert received(sock) == [
        "STATUS=stalled: recorder front-door made no progress for 30 s"
    ]  # and no ping: systemd restarts the service once WatchdogSec passes
    stalled.clear()
    dog.tick()
    assert received(sock) == ["STATUS=running: no recorder stalled", "WATCHDOG=1"]
    assert asked == [30.0] * 5
    assert dog.pings == 3


class HangingSubscription(Subscription):
    """A subscription whose ``get`` can be made to block, as a write to a hung disk does."""

    def __init__(self) -> None:
        super().__init__(8)
        self.hang = threading.Event()
        self.hung = threading.Event()
        self.release = threading.Event()

    def get(self, block: bool = True, timeout: float | None = None) -> CapturedPacket:
        if self.hang.is_set():
            self.hung.set()
            self.release.wait(30)
        return super().get(block, timeout)


def wait_until(condition: object, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within 10 s: {what}")
        time.sleep(0.02)


def test_recorder_progress_stops_while_its_thread_is_blocked(tmp_path: Path) -> None:
    clock = FakeClock()
    sub = HangingSubscription()
    store = SegmentStore.__new__(SegmentStore)  # never used: no packet ever arrives
    recorder = Recorder("front-door", sub, store, clock)
    assert recorder.progress_age() is None  # not started
    recorder.start()
    try:
        # Going round its loop (no packets: it polls), it keeps up with the clock.
        clock.advance(100)
        wait_until(lambda: recorder.progress_age() == 0.0, "the recorder goes round")
        sub.hang.set()
        sub.hung.wait(10)
        clock.advance(100)
        assert recorder.progress_age() == pytest.approx(100, abs=1)
        clock.advance(20)
        assert recorder.progress_age() == pytest.approx(120, abs=1)
        sub.hang.clear()
        sub.release.set()
        wait_until(lambda: recorder.progress_age() == 0.0, "the recorder goes round again")
    finally:
        sub.release.set()
        sub.close()
        assert recorder.stop()
    assert recorder.progress_age() is None  # stopped on purpose: not a stall
