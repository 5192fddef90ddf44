"""The events-mode pre-roll: the last N seconds of packets in RAM, in whole GOPs.

``PreRoll(seconds)``: ``add(item, keyframe, at)`` appends a packet (anything: the recorder
stores its own tuples) with its wall time; packets before the first keyframe are refused.
GOPs are dropped from the front while the next GOP still starts ``seconds`` or more before
the newest packet, so the buffer always starts on a keyframe at or before ``newest -
seconds`` (once that much has been seen), and holds at most ``seconds`` + one GOP.
``items()`` gives the packets in order, ``clear()`` empties it (new connection).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")


class PreRoll(Generic[T]):
    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"pre-roll must be >= 0 s, got {seconds}")
        self.window = timedelta(seconds=seconds)
        self._gops: deque[tuple[datetime, list[T]]] = deque()

    def add(self, item: T, keyframe: bool, at: datetime) -> bool:
        if keyframe:
            self._gops.append((at, [item]))
        elif self._gops:
            self._gops[-1][1].append(item)
        else:
            return False
        while len(self._gops) >= 2 and self._gops[1][0] <= at - self.window:
            self._gops.popleft()
        return True

    def start(self) -> datetime | None:
        return self._gops[0][0] if self._gops else None

    def items(self) -> list[T]:
        return [item for _, gop in self._gops for item in gop]

    def clear(self) -> None:
        self._gops.clear()

    def __len__(self) -> int:
        return sum(len(gop) for _, gop in self._gops)
