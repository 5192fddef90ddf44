"""Fixtures for the demo doorbell tests: a running demo camera, small so tests stay quick."""

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
