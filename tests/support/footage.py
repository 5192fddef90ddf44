"""Synthetic doorbell clips with known ground truth, encoded once per session.

Contract: the session fixture ``synthetic_clip_factory(name, seconds, *, width=640,
height=360, fps=10, seed=0, gop_seconds=2.0, crf=23)`` returns a ``SyntheticClip``
``(path, truths)``: an H.264 MP4 made by ``nvr.demo.encode.encode_clip`` from
``nvr.demo.scene.make_scene(name, ...)``, and the ``FrameTruth`` of each frame in order.
Clips are cached per parameter set under one session temporary directory, so tests
share them and must not modify the file (copy it first). The truths list is a fresh copy
on every call.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol

import pytest

from nvr.demo.encode import encode_clip
from nvr.demo.scene import FrameTruth, make_scene


class SyntheticClip(NamedTuple):
    path: Path
    truths: list[FrameTruth]


class SyntheticClipFactory(Protocol):
    def __call__(
        self,
        name: str,
        seconds: float,
        *,
        width: int = 640,
        height: int = 360,
        fps: int = 10,
        seed: int = 0,
        gop_seconds: float = 2.0,
        crf: int = 23,
    ) -> SyntheticClip: ...


class _ClipCache:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._clips: dict[tuple[object, ...], SyntheticClip] = {}

    def __call__(
        self,
        name: str,
        seconds: float,
        *,
        width: int = 640,
        height: int = 360,
        fps: int = 10,
        seed: int = 0,
        gop_seconds: float = 2.0,
        crf: int = 23,
    ) -> SyntheticClip:
        key = (name, seconds, width, height, fps, seed, gop_seconds, crf)
        clip = self._clips.get(key)
        if clip is None:
            scene = make_scene(name, width=width, height=height, fps=fps, seed=seed)
            path = self.root / (
                f"{name}-{seconds:g}s-{width}x{height}-{fps}fps-seed{seed}"
                f"-gop{gop_seconds:g}-crf{crf}.mp4"
            )
            truths = encode_clip(scene, path, seconds, gop_seconds=gop_seconds, crf=crf)
            clip = self._clips[key] = SyntheticClip(path, truths)
        return SyntheticClip(clip.path, list(clip.truths))


@pytest.fixture(scope="session")
def synthetic_clip_factory(tmp_path_factory: pytest.TempPathFactory) -> SyntheticClipFactory:
    """Encode (once per parameter set) a synthetic scene; see the module docstring."""
    return _ClipCache(tmp_path_factory.mktemp("synthetic-clips"))
