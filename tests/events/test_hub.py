"""The event hub: a doorbell press and a motion event reach the live bus and become sealed
records the owner can open, written off the event loop; shutdown waits for the writes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from nvr.clock import SystemClock
from nvr.config import Config
from nvr.events import EventBus, LiveEvent
from nvr.events.hub import EventHub
from nvr.keys.store import KeyStore
from nvr.service.box import CLI_OWNER, Box, open_box

PASSPHRASE = b"copper-Kettle-58-gently"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    cfg = Config().model_copy(
        update={"storage": Config().storage.model_copy(update={"data_dir": tmp_path / "data"})}
    )
    box = open_box(cfg, SystemClock())
    box.create_owner_keys(PASSPHRASE, 15, CLI_OWNER)
    yield box
    box.close()


def _jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((36, 64, 3), 128, np.uint8))
    assert ok
    return bytes(buf)


async def test_events_are_published_and_sealed(box: Box, tmp_path: Path) -> None:
    bus = EventBus()
    hub = EventHub(bus)
    store = box.event_store()
    hub.open(asyncio.get_running_loop(), lambda: store)
    start, end = T0 + timedelta(seconds=10), T0 + timedelta(seconds=14)
    motion: dict[str, Any] = {
        "type": "motion",
        "start": start,
        "end": end,
        "peak_score": 0.25,
        "boxes": [{"t": (T0 + timedelta(seconds=10)).isoformat(), "boxes": [[0.1, 0.2, 0.3, 0.4]]}],
        "zones": ["door", "path"],
    }
    with bus.subscribe() as sub:
        hub.instant("doorbell", "porch", T0, {"source": "webhook", "topic": "webhook"})

        def worker() -> None:  # a motion worker's thread
            hub.on_start("porch", start)
            hub.on_motion("porch", T0 + timedelta(seconds=12))
            hub.on_end("porch", motion, _jpeg())

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        await hub.close()
        live = [await asyncio.wait_for(sub.get(), 5) for _ in range(3)]
    assert live == [
        LiveEvent("porch", "doorbell", "instant", T0),
        LiveEvent("porch", "motion", "start", start),
        LiveEvent("porch", "motion", "end", end, ("door", "path"), 0.25),
    ]
    assert hub.stored == 2
    identities = KeyStore(tmp_path / "data").unlock(PASSPHRASE).identities
    refs = store.list("porch")
    opened = {store.open(r.id, identities).type: r.id for r in refs}
    assert set(opened) == {"doorbell", "motion"}
    kept = store.open(opened["motion"], identities).details
    assert kept["zones"] == ["door", "path"]
    assert kept["end"] == "2026-11-27T12:00:14+00:00"
    assert store.thumbnail(opened["motion"], identities) == _jpeg()
    assert store.thumbnail(opened["doorbell"], identities) is None


async def test_without_a_store_events_are_live_only(box: Box) -> None:
    bus = EventBus()
    hub = EventHub(bus)
    hub.open(asyncio.get_running_loop(), lambda: None)  # no owner keys yet
    with bus.subscribe() as sub:
        hub.instant("camera_motion", "porch", T0, {"source": "onvif", "topic": "x"})
        await hub.close()
        assert (await sub.get()).kind == "camera_motion"
    assert hub.stored == 0
    assert box.event_store().list("porch") == []
