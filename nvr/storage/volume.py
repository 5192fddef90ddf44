"""The filesystem footage lives on: its size, its free space, and the reserve kept free.

The reserve (2 % of the volume, at least 1 MiB, at most 512 MiB) is never filled with
footage, so the index database, the audit log and the system can still write when the disk
is otherwise full.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

RESERVE_MAX = 512 * 1024 * 1024
RESERVE_MIN = 1024 * 1024
RESERVE_FRACTION = 0.02


@dataclass(frozen=True)
class Volume:
    total: int
    free: int

    @property
    def reserve(self) -> int:
        share = min(RESERVE_MAX, max(RESERVE_MIN, int(self.total * RESERVE_FRACTION)))
        return min(share, self.total // 4)

    @property
    def low(self) -> bool:
        """Less free space than the reserve: retention must make room now."""
        return self.free < self.reserve


def volume_of(path: Path) -> Volume:
    st = os.statvfs(path)
    return Volume(st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)
