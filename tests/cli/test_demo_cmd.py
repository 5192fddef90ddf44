"""``nvr demo --scene``: which scene the demo doorbell plays, over the config's
``demo.scene`` (the service itself is not started: ``_run`` is replaced to catch the
config it would run with)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nvr.cli import service_cmd
from nvr.config import Config
from tests.cli.conftest import Run


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[Config]:
    configs: list[Config] = []

    def fake_run(cfg: Config, **_: Any) -> None:
        configs.append(cfg)

    monkeypatch.setattr(service_cmd, "_run", fake_run)
    return configs


@pytest.mark.parametrize(
    ("config", "flag", "scene"),
    [
        (None, [], "demo"),
        (None, ["--scene", "faces"], "demo_faces"),
        ("demo:\n  scene: faces\n", [], "demo_faces"),
        ("demo:\n  scene: faces\n", ["--scene", "visitors"], "demo"),
    ],
)
def test_the_flag_overrides_the_config(
    nvr: Run, ran: list[Config], tmp_path: Path, config: str | None, flag: list[str], scene: str
) -> None:
    args = ["demo", "--data-dir", str(tmp_path / "data"), *flag]
    if config is not None:
        (tmp_path / "nvr.yaml").write_text(config)
        args += ["--config", str(tmp_path / "nvr.yaml")]
    code, _, err = nvr(*args)
    assert code == 0, err
    (cfg,) = ran
    assert cfg.demo.scene_name() == scene


def test_an_unknown_scene_is_refused(nvr: Run, ran: list[Config], tmp_path: Path) -> None:
    code, _, err = nvr("demo", "--data-dir", str(tmp_path / "data"), "--scene", "ball")
    assert code != 0
    assert "ball" in err
    assert ran == []
