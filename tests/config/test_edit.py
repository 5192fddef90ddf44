"""Editing the config file: comments, order and layout kept; nothing replaced unless valid."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from nvr.config import ConfigError, load_config
from nvr.config.edit import DEFAULT_TEXT, SecretRef, add_camera, camera_names, remove_camera
from nvr.errors import UserError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "nvr.example.yaml"
PORCH = {"name": "porch", "main_url": "rtsp://127.0.0.1:8554/live", "record": "events"}

COMMENTED = """\
# My doorbell box.   (header)
server:
  port: 8443   # the dashboard

cameras:
  # The front door, over the porch.
  - name: front
    main_url: rtsp://192.168.1.20/main   # main stream
    # motion stays at its defaults
    record: continuous

# Logging last.
logging:
  level: info
"""


def full_line_comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nvr.yaml"
    path.write_text(COMMENTED)
    return path


def test_add_then_remove_gives_back_the_same_bytes(config: Path) -> None:
    add_camera(config, PORCH, env={})
    text = config.read_text()
    assert text.splitlines()[:10] == COMMENTED.splitlines()[:10]
    assert "  - name: porch\n    main_url: rtsp://127.0.0.1:8554/live\n    record: events\n" in text
    assert full_line_comments(text) == full_line_comments(COMMENTED)
    assert "# main stream" in text
    assert [c.name for c in load_config(config, env={}).cameras] == ["front", "porch"]
    remove_camera(config, "porch", env={})
    assert config.read_text() == COMMENTED


def test_the_example_keeps_every_comment_through_add_and_remove(tmp_path: Path) -> None:
    original = EXAMPLE.read_text()
    path = tmp_path / "nvr.yaml"
    path.write_text(original)
    add_camera(path, PORCH, env={})
    assert full_line_comments(path.read_text()) == full_line_comments(original)
    remove_camera(path, "porch", env={})
    assert path.read_text() == original
    # Removing a camera takes its own lines (and the comment inside it), nothing else.
    remove_camera(path, "front-door", env={})
    inside = "# Points are [x, y] fractions of the picture, from the top left corner."
    assert full_line_comments(path.read_text()) == [
        c for c in full_line_comments(original) if c != inside
    ]
    remove_camera(path, "side-gate", env={})
    text = path.read_text()
    assert "\ncameras: []\n" in text
    assert full_line_comments(text) == [c for c in full_line_comments(original) if c != inside]
    assert load_config(path, env={}).cameras == []


def test_first_of_several_and_a_middle_one(config: Path) -> None:
    add_camera(config, PORCH, env={})
    add_camera(config, {**PORCH, "name": "yard"}, env={})
    remove_camera(config, "porch", env={})
    assert camera_names(config) == ["front", "yard"]
    remove_camera(config, "front", env={})
    assert camera_names(config) == ["yard"]
    text = config.read_text()
    assert "# The front door, over the porch." in text
    assert "# motion stays at its defaults" not in text  # it was inside 'front'


def test_a_missing_file_is_created_from_the_default(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "nvr.yaml"
    add_camera(path, PORCH, env={})
    text = path.read_text()
    assert text.startswith(DEFAULT_TEXT.split("cameras:")[0])
    assert text.endswith(
        "cameras:\n  - name: porch\n    main_url: rtsp://127.0.0.1:8554/live\n    record: events\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert files_in(path.parent) == {"nvr.yaml"}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("server:\n  port: 8443\n", "server:\n  port: 8443\n\ncameras:\n  - name: porch\n"),
        ("cameras: []   # none yet\nlogging: {}\n", "cameras:   # none yet\n  - name: porch\n"),
        (
            "cameras:\n- name: a\n  main_url: rtsp://h/a\n",
            "  main_url: rtsp://h/a\n- name: porch\n",
        ),
        (
            "cameras:\n    -   name: a\n        main_url: rtsp://h/a\n",
            "        main_url: rtsp://h/a\n    -   name: porch\n        main_url:",
        ),
    ],
)
def test_new_cameras_follow_the_file_layout(tmp_path: Path, before: str, after: str) -> None:
    path = tmp_path / "nvr.yaml"
    path.write_text(before)
    add_camera(path, PORCH, env={})
    assert after in path.read_text()
    assert "porch" in camera_names(path)


def test_secrets_go_to_a_private_file_and_keep_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "nvr.yaml"
    camera = {**PORCH, "username": "viewer", "password": SecretRef("porch_password")}
    add_camera(path, camera, secrets={"porch_password": "hunter2-x"}, env={})
    secrets = tmp_path / "secrets.yaml"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert "hunter2-x" not in path.read_text()
    assert "password: !secret porch_password\n" in path.read_text()
    assert load_config(path, env={}).cameras[0].stream_url() == (
        "rtsp://viewer:hunter2-x@127.0.0.1:8554/live"
    )
    secrets.write_text("# kept\nother: 'x'   # also kept\n" + secrets.read_text())
    add_camera(
        path,
        {**camera, "name": "yard", "password": SecretRef("yard_password")},
        secrets={"yard_password": "p2"},
        env={},
    )
    text = secrets.read_text()
    assert "# kept\nother: 'x'   # also kept\n" in text
    assert "yard_password: p2\n" in text
    assert files_in(tmp_path) == {"nvr.yaml", "secrets.yaml"}


def test_an_unsafe_secrets_file_stops_the_edit(tmp_path: Path) -> None:
    path = tmp_path / "nvr.yaml"
    path.write_text(COMMENTED)
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("old: 'x'\n")
    secrets.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        add_camera(path, PORCH, secrets={"porch_password": "pw"}, env={})
    assert path.read_text() == COMMENTED
    assert secrets.read_text() == "old: 'x'\n"


def test_an_edit_that_would_not_load_changes_nothing(config: Path) -> None:
    config.chmod(0o640)
    with pytest.raises(ConfigError, match="rtsp://"):
        add_camera(config, {"name": "bad", "main_url": "http://cam/x"}, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        # A !secret with no secrets file behind it.
        add_camera(config, {**PORCH, "password": SecretRef("porch_password")}, env={})
    assert config.read_text() == COMMENTED
    assert files_in(config.parent) == {"nvr.yaml"}
    add_camera(config, PORCH, env={})
    assert stat.S_IMODE(config.stat().st_mode) == 0o640


def test_duplicate_and_unknown_names(config: Path) -> None:
    with pytest.raises(UserError, match="a camera named 'front' is already in"):
        add_camera(config, {**PORCH, "name": "front"}, env={})
    with pytest.raises(UserError, match="no camera named 'porch'"):
        remove_camera(config, "porch", env={})
    assert config.read_text() == COMMENTED


def test_a_flow_style_camera_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nvr.yaml"
    path.write_text("cameras: [{name: a, main_url: 'rtsp://h/a'}]\n")
    with pytest.raises(UserError, match=r"\[\.\.\.\] list"):
        add_camera(path, PORCH, env={})


def test_a_symlinked_config_is_edited_in_place(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text(COMMENTED)
    link = tmp_path / "nvr.yaml"
    link.symlink_to(real)
    add_camera(link, PORCH, env={})
    assert link.is_symlink()
    assert "porch" in camera_names(real)
