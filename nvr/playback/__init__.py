"""Playback: decrypted segments -> one MP4 over a time range (docs/design/playback.md)."""

from nvr.playback.cache import ClipCache
from nvr.playback.clip import Clip, Gap, NoFootage, build_clip
from nvr.playback.ranges import BadRange, Unsatisfiable, parse_range

__all__ = [
    "BadRange",
    "Clip",
    "ClipCache",
    "Gap",
    "NoFootage",
    "Unsatisfiable",
    "build_clip",
    "parse_range",
]
