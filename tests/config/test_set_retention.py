"""``set_retention`` (nvr/config/edit.py): only the retention values and the quota change;
comments, order and other keys stay; missing keys are added under their section; a file
it cannot edit or a value the loader refuses leaves the file as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from nvr.config import load_config
from nvr.config.edit import set_retention
from nvr.config.errors import ConfigError
from nvr.errors import UserError

FULL = """\
# top comment
storage:
  data_dir: /srv/nvr  # where footage goes
  retention:
    continuous_days: 14   # two weeks
    event_days: 30
  quota: 90%
cameras: []
"""


def edit(tmp_path: Path, text: str, quota: str | None = "80%") -> str:
    path = tmp_path / "nvr.yaml"
    path.write_text(text)
    set_retention(path, continuous_days=7, event_days=21, quota=quota)
    storage = load_config(path).storage
    assert (storage.retention.continuous_days, storage.retention.event_days) == (7, 21)
    assert storage.quota == quota
    return path.read_text()


def test_values_change_in_place(tmp_path: Path) -> None:
    assert edit(tmp_path, FULL) == FULL.replace("14   #", "7   #").replace(
        "event_days: 30", "event_days: 21"
    ).replace("90%", "80%")


def test_no_quota_is_written_as_null(tmp_path: Path) -> None:
    assert "  quota: null\n" in edit(tmp_path, FULL, quota=None)


def test_missing_sections_are_added(tmp_path: Path) -> None:
    assert edit(tmp_path, "# only cameras\ncameras: []\n") == (
        "# only cameras\ncameras: []\n\n"
        "storage:\n  retention:\n    continuous_days: 7\n    event_days: 21\n  quota: 80%\n"
    )
    text = edit(tmp_path, "storage:\n    data_dir: /srv/nvr # here\ncameras: []\n", quota=None)
    assert text == (
        "storage:\n    retention:\n        continuous_days: 7\n        event_days: 21\n"
        "    data_dir: /srv/nvr # here\ncameras: []\n"
    )


def test_refusals_leave_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "nvr.yaml"
    flow = "storage: {quota: 90%}\n"
    path.write_text(flow)
    with pytest.raises(UserError, match=r"written as \{\.\.\.\}"):
        set_retention(path, continuous_days=7, event_days=21, quota=None)
    assert path.read_text() == flow
    path.write_text(FULL)
    with pytest.raises(UserError, match="write a size"):
        set_retention(path, continuous_days=7, event_days=21, quota="9: x")
    with pytest.raises(ConfigError):
        set_retention(path, continuous_days=7, event_days=21, quota="12 XB")
    assert path.read_text() == FULL
    created = tmp_path / "none.yaml"  # no file yet: created, valid, with just these values
    set_retention(created, continuous_days=7, event_days=21, quota="80%")
    loaded = load_config(created)
    assert (loaded.storage.retention.continuous_days, loaded.storage.retention.event_days) == (
        7,
        21,
    )
    assert loaded.storage.quota == "80%"
