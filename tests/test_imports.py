"""What importing the CLI and the service loads: heavy libraries only where they are used.

Every ``nvr`` command, ``nvr serve`` included, starts by importing ``nvr.cli``, and the
service process keeps whatever that loaded for as long as it runs. ONVIF (zeep, lxml,
aiohttp), the web app (FastAPI, uvicorn) and OpenCV/NumPy (the demo doorbell, the bench's
clip encoder) cost tens of MB of RSS between them, so each is imported by the command, or
the camera kind, that needs it (docs/performance.md, "Recording"). Each check runs in a
fresh interpreter, so modules an earlier test imported do not count.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

ONVIF = ("onvif", "zeep", "lxml", "aiohttp")
WEB = ("fastapi", "starlette", "uvicorn", "jinja2")
OPENCV = ("cv2", "numpy")
ON_DEMAND = ("zxcvbn", "alembic", "argon2")  # a passphrase set; a migration due; a login
MQTT = ("aiomqtt", "paho")  # only when notifications.mqtt is enabled


def loaded_by(*modules: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after importing ``modules`` in a fresh process."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(done.stdout))


@pytest.fixture(scope="module")
def cli_loads() -> set[str]:
    return loaded_by("nvr.cli")


@pytest.mark.parametrize("library", ONVIF + WEB + ON_DEMAND + MQTT)
def test_cli_leaves_onvif_and_the_web_app_to_the_commands_that_use_them(
    library: str, cli_loads: set[str]
) -> None:
    assert library not in cli_loads, f"import {library} inside the command that needs it"


def test_service_without_demo_or_onvif_loads_neither() -> None:
    # What ``nvr serve`` adds to the CLI: the runner, the web app, the camera set. The demo
    # doorbell and ONVIF cameras import their libraries when the config asks for them.
    loaded = loaded_by("nvr.service.runner", "nvr.service.cameras")
    heavy = ONVIF + OPENCV + MQTT
    assert loaded.isdisjoint(heavy), sorted(loaded.intersection(heavy))
    assert "fastapi" in loaded  # the check itself sees a library that is imported


def test_cli_leaves_opencv_to_the_commands_that_use_it(cli_loads: set[str]) -> None:
    assert cli_loads.isdisjoint(OPENCV), sorted(cli_loads.intersection(OPENCV))


def test_bench_record_leaves_opencv_to_the_clip_encoder() -> None:
    # The recording child imports this module: OpenCV there would count in its RSS.
    loaded = loaded_by("nvr.bench.record")
    assert loaded.isdisjoint(OPENCV), sorted(loaded.intersection(OPENCV))
