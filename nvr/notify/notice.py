"""What is sent out of the box when something happens, and the bounded queue it waits in.

Contract:
- ``Notice`` is one thing worth telling another system: a motion start or end, a doorbell
  press, camera-side motion (ONVIF), a camera going online or offline. It carries no
  picture, no footage and no URL: only the camera's name, the kind, the time, and for a
  motion end the zones touched and the peak score. ``as_json()`` is the JSON body that
  MQTT event topics and webhooks share. ``Notice.from_live`` maps a live-bus event.
- ``Outbox(size, name)`` holds notices in order for one destination that may be away
  (a broker restarting, a receiver answering 500). It never blocks and never grows past
  ``size``: when full the *oldest* notice is dropped, ``dropped`` counts it, and a warning
  is logged for the first drop after a calm spell and then every ``LOG_EVERY`` drops (a
  flood cannot flood the log). ``peek`` / ``pop`` let a sender remove a notice only once
  it was delivered; ``wait()`` returns when something is queued or ``wake()`` is called.
  One event loop only.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from nvr.events import LiveEvent

__all__ = ["LOG_EVERY", "Notice", "NoticeKind", "Outbox"]

log = logging.getLogger(__name__)

LOG_EVERY = 100

NoticeKind = Literal[
    "motion_start", "motion_end", "doorbell", "camera_motion", "camera_online", "camera_offline"
]


@dataclass(frozen=True)
class Notice:
    """One event for the outside world; see the module docstring. ``id`` is unique per
    notice, so a receiver can drop a retried delivery it already has."""

    camera: str
    kind: NoticeKind
    at: datetime
    zones: tuple[str, ...] = ()
    score: float | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @staticmethod
    def from_live(event: LiveEvent) -> Notice:
        kind: NoticeKind
        if event.kind == "motion":
            kind = "motion_end" if event.phase == "end" else "motion_start"
        elif event.kind == "doorbell":
            kind = "doorbell"
        else:
            kind = "camera_motion"
        return Notice(event.camera, kind, event.at, event.zones, event.score)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "camera": self.camera,
            "kind": self.kind,
            "at": self.at.isoformat().replace("+00:00", "Z"),
        }
        if self.kind == "motion_end":
            body["zones"] = list(self.zones)
            body["score"] = self.score
        return body


class Outbox:
    """A bounded, ordered queue of notices for one destination; see the module docstring."""

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self.name = name
        self.dropped = 0
        self._items: deque[Notice] = deque()
        self._ready = asyncio.Event()
        self._calm = True  # no drop since the queue last emptied

    def __len__(self) -> int:
        return len(self._items)

    def put(self, notice: Notice) -> None:
        if len(self._items) >= self.size:
            self._items.popleft()
            self.dropped += 1
            if self._calm or self.dropped % LOG_EVERY == 0:
                log.warning(
                    "notification queue full: dropped the oldest event",
                    extra={"destination": self.name, "dropped": self.dropped},
                )
            self._calm = False
        self._items.append(notice)
        self._ready.set()

    def peek(self) -> Notice | None:
        return self._items[0] if self._items else None

    def pop(self) -> None:
        if self._items:
            self._items.popleft()
        if not self._items:
            self._calm = True

    def wake(self) -> None:
        """Make a pending ``wait()`` return (a change other than a new notice)."""
        self._ready.set()

    async def wait(self) -> None:
        """Until a notice is queued or ``wake()`` is called (now, if one already is)."""
        if self._items:
            return
        if not self._ready.is_set():
            await self._ready.wait()
        self._ready.clear()
