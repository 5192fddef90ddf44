"""The retention settings the dashboard edits: the config file and the running retainer.

``RetentionEditor(config_path, storage, apply=...)``: ``view()`` is what the settings page
shows (default retention, quota, which file); ``update(...)`` writes the config file with
``nvr.config.edit.set_retention`` (comments kept, validated before the file is replaced)
and then hands the new ``StorageConfig`` to ``apply``: the service swaps the retainer's
settings, so the next retention pass (at most 10 minutes later) uses them, no restart.
Without a config file (the service runs on defaults) nothing can be saved: ``update``
raises ``UserError`` saying so. Per-camera retention stays as the file says.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from nvr.config.cameras import RetentionConfig
from nvr.config.edit import set_retention
from nvr.config.models import StorageConfig
from nvr.errors import UserError
from nvr.storage.enforce import Retainer
from nvr.storage.retention import Retention
from nvr.storage.volume import volume_of


@dataclass(frozen=True)
class RetentionView:
    continuous_days: int
    event_days: int
    quota: str | None
    config_file: str | None
    editable: bool
    applies: str  # when a change takes effect, in words


APPLIES_NOW = "at the next retention pass (within 10 minutes), without a restart"
APPLIES_AT_RESTART = "at the next restart of the service"


class RetentionEditor:
    def __init__(
        self,
        config_path: Path | None,
        storage: StorageConfig,
        *,
        apply: Callable[[StorageConfig], None] | None = None,
    ) -> None:
        self._path = config_path
        self._storage = storage
        self._apply = apply
        self._lock = threading.Lock()

    def view(self) -> RetentionView:
        storage = self._storage
        return RetentionView(
            continuous_days=storage.retention.continuous_days,
            event_days=storage.retention.event_days,
            quota=storage.quota,
            config_file=str(self._path) if self._path is not None else None,
            editable=self._path is not None,
            applies=APPLIES_NOW if self._apply is not None else APPLIES_AT_RESTART,
        )

    def update(self, *, continuous_days: int, event_days: int, quota: str | None) -> RetentionView:
        """Save and apply; ``UserError`` or ``ConfigError`` (nothing changed) when refused."""
        if self._path is None:
            raise UserError(
                "the service runs without a config file, so there is nowhere to save this",
                hint="start it with --config FILE (nvr serve) to edit retention here",
            )
        with self._lock:
            set_retention(
                self._path, continuous_days=continuous_days, event_days=event_days, quota=quota
            )
            # The file's loader has just validated these values (set_retention).
            retention = RetentionConfig(continuous_days=continuous_days, event_days=event_days)
            storage = self._storage.model_copy(update={"retention": retention, "quota": quota})
            self._storage = storage
            if self._apply is not None:
                self._apply(storage)
        return self.view()


def apply_retention(retainer: Retainer, storage: StorageConfig) -> None:
    """Give the running retainer the new default retention and quota (per-camera
    retention unchanged); its next pass uses them."""
    total = volume_of(storage.data_dir).total
    retainer.settings = replace(
        retainer.settings,
        default=Retention(storage.retention.continuous_days, storage.retention.event_days),
        quota_bytes=storage.quota_bytes(total),
    )
