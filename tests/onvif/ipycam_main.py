"""Run PyPI ``ipycam`` as a third-party ONVIF camera for the tests (its own venv).

Executed by ``.venv-ipycam/bin/python`` *inside* a test network namespace, never
imported by the suite (ipycam and its opencv-python 5 live only in that venv).
``ipycam_main.py PORT [USER PASSWORD]`` starts the camera (ONVIF on 127.0.0.1:PORT,
WS-Discovery on 239.255.255.250:3702 — the namespace's ``lo``), prints ``READY``,
then feeds it small generated frames until killed.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from ipycam import CameraConfig, IPCamera  # type: ignore[import-not-found]


def main(argv: list[str]) -> int:
    port = int(argv[0])
    config = CameraConfig(
        name="PorchTestCam",
        manufacturer="PythonCam",
        model="VirtualCam-1",
        serial_number="PY-TEST-0001",
        local_ip="127.0.0.1",
        onvif_port=port,
        main_width=640,
        main_height=480,
        main_fps=5,
        sub_width=320,
        sub_height=240,
        sub_fps=5,
        hw_accel="cpu",
        show_timestamp=False,
    )
    if len(argv) >= 3:
        config.set_credentials(argv[1], argv[2])
    camera = IPCamera(config)
    if not camera.start():
        print("ipycam failed to start", file=sys.stderr)
        return 1
    print("READY", flush=True)
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    try:
        while True:
            frame[:, :, 1] = (int(frame[0, 0, 1]) + 8) % 256
            camera.stream(frame)
            time.sleep(0.2)
    finally:
        camera.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
