"""``apply_retention`` (nvr/service/settings.py): the running retainer takes the new
default retention and quota; per-camera retention stays."""

from __future__ import annotations

from pathlib import Path

from nvr.config.cameras import RetentionConfig
from nvr.service.settings import RetentionEditor, apply_retention
from nvr.storage.retention import Retention
from nvr.storage.volume import volume_of
from tests.support.accounts import open_site


def test_the_retainer_takes_the_new_settings(tmp_path: Path) -> None:
    site = open_site(tmp_path, owner=False)
    try:
        retainer = site.box.retainer(site.box.segment_store())
        storage = site.box.cfg.storage.model_copy(
            update={"retention": RetentionConfig(continuous_days=3, event_days=9), "quota": "50%"}
        )
        apply_retention(retainer, storage)
        assert retainer.settings.default == Retention(3, 9)
        total = volume_of(storage.data_dir).total
        assert retainer.settings.quota_bytes == total // 2
        assert retainer.settings.per_camera == {}
    finally:
        site.box.close()


def test_the_editor_applies_after_saving(tmp_path: Path) -> None:
    config = tmp_path / "nvr.yaml"
    config.write_text("cameras: []\n")
    site = open_site(tmp_path, owner=False)
    try:
        retainer = site.box.retainer(site.box.segment_store())
        editor = RetentionEditor(
            config, site.box.cfg.storage, apply=lambda s: apply_retention(retainer, s)
        )
        view = editor.update(continuous_days=5, event_days=10, quota=None)
        assert (view.continuous_days, view.event_days, view.quota) == (5, 10, None)
        assert "without a restart" in view.applies
        assert retainer.settings.default == Retention(5, 10)
        assert retainer.settings.quota_bytes is None
    finally:
        site.box.close()
