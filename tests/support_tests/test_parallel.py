"""The parallel run's ordering (tests/conftest.py ``START_FIRST``) names real modules:
a renamed module would silently fall back to the collected order."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import START_FIRST

REPO = Path(__file__).resolve().parents[2]


def test_every_module_started_first_exists() -> None:
    missing = [module for module in START_FIRST if not (REPO / module).is_file()]
    assert missing == []
    assert len(set(START_FIRST)) == len(START_FIRST)
