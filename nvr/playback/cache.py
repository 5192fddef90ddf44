"""A small, short-lived cache of built clips, so a player's range requests reuse one build.

``ClipCache(clock, entries=4, max_bytes=..., ttl=60.0)``: ``get(key)`` / ``put(key, value,
size)``; least recently used first out, entries older than ``ttl`` seconds (monotonic clock)
are gone, and the total size stays within ``max_bytes`` (a clip larger than that is simply
not kept). Callers key it per unlock session, so one session never sees another's clip.
Not thread-safe: use it from the event loop only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from nvr.clock import Clock

T = TypeVar("T")


class ClipCache(Generic[T]):
    def __init__(
        self,
        clock: Clock,
        *,
        entries: int = 4,
        max_bytes: int = 256 * 1024 * 1024,
        ttl: float = 60.0,
    ) -> None:
        self._clock = clock
        self._entries = entries
        self._max_bytes = max_bytes
        self._ttl = ttl
        self._items: OrderedDict[Hashable, tuple[float, int, T]] = OrderedDict()

    def _expire(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, (born, _, _) in self._items.items() if now - born > self._ttl]:
            del self._items[key]

    def get(self, key: Hashable) -> T | None:
        self._expire()
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[2]

    def put(self, key: Hashable, value: T, size: int) -> None:
        self._expire()
        self._items.pop(key, None)
        if size > self._max_bytes:
            return
        self._items[key] = (self._clock.monotonic(), size, value)
        while len(self._items) > self._entries or self.size > self._max_bytes:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    @property
    def size(self) -> int:
        return sum(size for _, size, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)
