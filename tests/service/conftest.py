"""Fixtures shared by the service tests that run ``nvr serve`` / ``nvr demo`` for real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.service.test_serve import Running


@pytest.fixture
def cleanup() -> Iterator[list[Running]]:
    """Services a test started: killed (if still running) and their pipes closed after it."""
    runs: list[Running] = []
    yield runs
    for run in runs:
        run.close()
