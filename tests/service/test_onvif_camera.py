"""An ONVIF camera end to end through ``nvr serve``: the service asks the camera for its
stream, records it, follows its PullPoint events, and keeps a doorbell press as a sealed
event the owner can open.

The camera is two real parts: GStreamer's RTSP server for the video, and the PullPoint
double (tests/onvif/pullpoint_double.py) for the ONVIF device, media and event services,
which no installable device offers here (TESTING.md). The double runs on its own event
loop in a thread, since ``nvr serve`` runs as a separate process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from nvr.clock import SystemClock
from nvr.config import Config
from nvr.keys.store import KeyStore
from nvr.service.box import open_box
from tests.onvif.pullpoint_double import PullPointDouble
from tests.service.test_serve import Running, _camera, start
from tests.support.rtsp_server import Mount, RtspCameraFactory

PASSPHRASE = "amber-Lantern-73-softly"


class ThreadedDouble:
    """A ``PullPointDouble`` served from a background thread's event loop."""

    def __init__(self, stream_uri: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.double: PullPointDouble = self._call(self._make(stream_uri))
        self.port: int = self._call(self.double.start())

    @staticmethod
    async def _make(stream_uri: str) -> PullPointDouble:
        return PullPointDouble(manufacturer="PorchCo", model="DB-2", stream_uri=stream_uri)

    def _call(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=30)

    def press(self) -> int:
        async def notify() -> int:
            count: int = self.double.notify(
                "tns1:Device/Trigger/DigitalInput", "LogicalState", "true"
            )
            return count

        count: int = self._call(notify())
        return count

    def subscriptions(self) -> int:
        async def subs() -> int:
            live: int = self.double.live_subscriptions
            return live

        count: int = self._call(subs())
        return count

    def close(self) -> None:
        self._call(self.double.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def onvif_camera(rtsp_camera_factory: RtspCameraFactory) -> Iterator[ThreadedDouble]:
    rtsp = rtsp_camera_factory([Mount("/main")])
    double = ThreadedDouble(f"rtsp://127.0.0.1:{rtsp.port}/main")
    yield double
    double.close()


def _wait(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.1)


@pytest.mark.rtsp
def test_an_onvif_camera_records_and_its_doorbell_press_becomes_a_sealed_event(
    tmp_path: Path, onvif_camera: ThreadedDouble, cleanup: list[Running]
) -> None:
    data = tmp_path / "data"
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    pw.chmod(0o600)
    init = [sys.executable, "-m", "nvr", "keys", "init", "--passphrase-file", str(pw)]
    done = subprocess.run(
        [*init, "--data-dir", str(data), "--work-factor", "15"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "cameras:\n"
        "  - name: porch\n"
        "    onvif:\n"
        "      host: 127.0.0.1\n"
        f"      port: {onvif_camera.port}\n"
    )
    run = start(
        ["serve", "--config", str(config), "--bind", "127.0.0.1"],
        tmp_path,
        owner=("owner", PASSPHRASE),  # 'keys init' made the owner's account
    )
    cleanup.append(run)
    # The stream URI came from the camera's media service; the reader records it.
    run.wait_for(lambda h: _camera(h, "porch")["recording"] == "recording")
    assert _camera(run.health(), "porch")["state"] == "online"
    _wait(lambda: onvif_camera.subscriptions() == 1, "the service never subscribed to events")
    assert onvif_camera.press() == 1
    box_cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": data})}
    )
    [identity, *_] = KeyStore(data).unlock(PASSPHRASE.encode()).identities
    box = open_box(box_cfg, SystemClock())
    try:
        events = box.event_store()

        def kinds() -> list[str]:
            return [events.open(r.id, [identity]).type for r in events.list("porch")]

        # The test pattern's moving ball is motion too: wait for the press itself.
        _wait(lambda: "doorbell" in kinds(), "the press was not kept", timeout=5)
    finally:
        box.close()
    code, log = run.stop()
    assert code == 0, log
    assert "PorchCo DB-2" in log
    assert "Traceback" not in log
    box = open_box(box_cfg, SystemClock())
    try:
        opened = [box.event_store().open(r.id, [identity]) for r in box.event_store().list("porch")]
        [details] = [d for d in opened if d.type == "doorbell"]
        assert {d.type for d in opened} <= {"doorbell", "motion"}
        assert details.details["source"] == "onvif"
        assert details.details["topic"] == "tns1:Device/Trigger/DigitalInput"
        closed = [r for r in box.segment_store().all_records() if r.state == "closed"]
        assert closed
        assert {r.camera for r in closed} == {"porch"}
    finally:
        box.close()
