"""``nvr serve`` records what an ONVIF camera says it is: a ``camera.device`` audit entry
from GetDeviceInformation, written the first time and not again while nothing changed.

The camera is PyPI ipycam (a third-party ONVIF implementation, tests/onvif/conftest.py),
run inside a network namespace with the service (it multicasts a Hello on start). Its
stream may or may not play there; the identity is recorded as soon as the camera has
answered, before any stream is opened.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from nvr.camera_identity import serial_hash
from nvr.clock import SystemClock
from nvr.config import Config
from nvr.service.box import open_box
from tests.live.inside import call_inside
from tests.onvif.conftest import StartIpycam, ipycam_factory, ipycam_python
from tests.service.test_serve import Running, start
from tests.support.netns import Netns

__all__ = ["ipycam_factory", "ipycam_python"]  # fixtures, used by name

pytestmark = [pytest.mark.netns]


def _run_until_reported(tmp_path: Path, config: Path) -> tuple[int, str]:
    """Run ``nvr serve`` until it has probed the camera (its log says so), then stop it."""
    run: Running = start(["serve", "--config", str(config), "--bind", "127.0.0.1"], tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"ONVIF camera porch: PythonCam VirtualCam-1", run.stderr.read_text()):
            if time.monotonic() > deadline or run.proc.poll() is not None:
                raise AssertionError(f"the camera was never probed: {run.stderr.read_text()}")
            time.sleep(0.2)
        return run.stop()
    finally:
        run.close()


def _device_entries(data_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": data_dir})}
    )
    box = open_box(cfg, SystemClock())
    try:
        count = box.audit.verify().entries
        entries = [json.loads(box.audit.entry(i)) for i in range(count)]
        return box.device_id, [e for e in entries if e["kind"] == "camera.device"]
    finally:
        box.close()


def test_the_service_logs_the_onvif_cameras_identity_once(
    netns: Netns, ipycam_factory: StartIpycam, tmp_path: Path
) -> None:
    port = ipycam_factory(netns)
    config = tmp_path / "nvr.yaml"
    config.write_text(
        f"cameras:\n  - name: porch\n    onvif:\n      host: 127.0.0.1\n      port: {port}\n"
    )
    code, log = call_inside(netns, lambda: _run_until_reported(tmp_path, config), timeout=180)
    assert code == 0, log
    assert "Traceback" not in log, log
    device_id, entries = _device_entries(tmp_path / "data")
    [entry] = entries
    assert entry["actor"] == {"role": "system", "user": None}
    payload = entry["payload"]
    assert payload["camera"] == "porch"
    assert (payload["manufacturer"], payload["model"]) == ("PythonCam", "VirtualCam-1")
    assert payload["firmware"]  # whatever ipycam's version says
    assert payload["source"] == "onvif"
    # The serial is kept only as a salted hash (tests/onvif/ipycam_main.py sets it).
    assert payload["serial_sha256"] == serial_hash("PY-TEST-0001", device_id)
    assert "PY-TEST-0001" not in log
    # A second start meets the same camera: nothing new is logged.
    code, log = call_inside(netns, lambda: _run_until_reported(tmp_path, config), timeout=180)
    assert code == 0, log
    assert _device_entries(tmp_path / "data")[1] == [entry]
