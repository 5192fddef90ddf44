"""The built-in demo doorbell as a test camera: ``doorbell`` is a running instance, small
(320x180, 10 fps, 1 s GOP) so the capture and demo tests stay quick. Stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from nvr.demo.rtsp_server import DemoDoorbell


@pytest.fixture
async def doorbell() -> AsyncIterator[DemoDoorbell]:
    bell = DemoDoorbell(width=320, height=180, fps=10, gop_seconds=1.0)
    await bell.start()
    yield bell
    await bell.stop()
