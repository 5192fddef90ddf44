"""Synthetic doorbell scenes with the ground truth known by construction.

Contract::

    scene = make_scene("visitor", width=640, height=360, fps=10, seed=0)
    frame, truth = scene.render(index)   # H x W x 3 uint8 BGR, FrameTruth

``render`` is deterministic in ``(name, seed, index)`` (and the size), and frames may be
rendered in any order. ``truth.boxes`` are the ``(x, y, w, h)`` boxes of everything that
moves in that frame, clipped to the frame, and ``truth.motion`` is ``bool(truth.boxes)``;
outside those boxes a frame equals the empty scene's frame, except for whole-frame
effects (lighting, sensor noise), which are not motion. ``scene.duration`` is the
scene's natural length in seconds (``None`` for the endless ``"demo"``).

A scene is a pre-rendered background, actors (sprites placed by pure functions of time)
and effects, so a frame costs a copy and a few small pastes: the live demo renders in
real time on a Raspberry Pi. New kinds of footage (a sudden light jump, an IR switch to
low-contrast gray, a swaying tree under a mask, rain) are new actors or effects plus one
``_register``-ed builder: the API above does not change. A ``Scene`` is not thread-safe
(the endless demo extends its schedule as it goes); use one per thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nvr.demo.actors import (
    Actor,
    Effect,
    EndlessVisits,
    LightRamp,
    Passerby,
    SensorNoise,
    Visit,
    VisitsActor,
)
from nvr.demo.porch import Image, Layout, draw_porch
from nvr.demo.sprites import PersonStyle, paste, person_sprites

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class FrameTruth:
    index: int
    motion: bool
    boxes: tuple[Box, ...]  # x, y, w, h in pixels of each moving thing


class Scene:
    """A background, actors and effects; see the module docstring for the contract."""

    def __init__(
        self,
        name: str,
        layout: Layout,
        *,
        fps: int,
        seed: int,
        actors: Sequence[Actor] = (),
        effects: Sequence[Effect] = (),
        duration: float | None = None,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.name = name
        self.layout = layout
        self.width, self.height = layout.width, layout.height
        self.fps = fps
        self.seed = seed
        self.duration = duration
        self._actors = tuple(actors)
        self._effects = tuple(effects)
        self._background = draw_porch(layout, seed)
        self._background.flags.writeable = False

    @property
    def background(self) -> Image:
        """The empty scene (read-only): what a frame shows where nothing moves."""
        return self._background

    def frame_count(self) -> int | None:
        """Frames in the scene's natural length, or ``None`` when endless."""
        return None if self.duration is None else round(self.duration * self.fps)

    def render(self, index: int) -> tuple[Image, FrameTruth]:
        if index < 0:
            raise ValueError(f"frame index must be >= 0, got {index}")
        t = index / self.fps
        frame = self._background.copy()
        boxes: list[Box] = []
        for actor in self._actors:
            for placed in actor.placements(t):
                box = paste(frame, placed.sprite, placed.x, placed.y)
                if box is not None and placed.moving:
                    boxes.append(box)
        for effect in self._effects:
            effect.apply(frame, index, t)
        return frame, FrameTruth(index=index, motion=bool(boxes), boxes=tuple(boxes))

    def __repr__(self) -> str:
        return f"Scene({self.name!r}, {self.width}x{self.height}@{self.fps}, seed={self.seed})"


_Builder = Callable[[Layout, int, int], Scene]  # (layout, fps, seed) -> Scene
_BUILDERS: dict[str, _Builder] = {}


def _register(name: str) -> Callable[[_Builder], _Builder]:
    def add(builder: _Builder) -> _Builder:
        _BUILDERS[name] = builder
        return builder

    return add


@_register("static")
def _static(lay: Layout, fps: int, seed: int) -> Scene:
    return Scene("static", lay, fps=fps, seed=seed, duration=10.0)


@_register("visitor")
def _visitor(lay: Layout, fps: int, seed: int) -> Scene:
    visit = Visit(start=1.0, from_left=True, stay=5.0, kind="visitor", style_seed=seed)
    total = visit.timing(lay)[3]
    actor = VisitsActor(lay, [visit], seed)
    return Scene("visitor", lay, fps=fps, seed=seed, actors=[actor], duration=total + 2.0)


@_register("walk_past")
def _walk_past(lay: Layout, fps: int, seed: int) -> Scene:
    style = PersonStyle.random(np.random.default_rng([seed, 0xED6E]))
    sprites = person_sprites(style, round(lay.height * 0.6))
    h = sprites.stand.mask.shape[0]
    crossing = (lay.width + h) / (0.7 * h)
    actor = Passerby(lay, start=1.0, sprites=sprites)
    return Scene("walk_past", lay, fps=fps, seed=seed, actors=[actor], duration=crossing + 2.0)


@_register("light_ramp")
def _light_ramp(lay: Layout, fps: int, seed: int) -> Scene:
    return Scene("light_ramp", lay, fps=fps, seed=seed, effects=[LightRamp()], duration=40.0)


@_register("noise")
def _noise(lay: Layout, fps: int, seed: int) -> Scene:
    noise = SensorNoise(sigma=6.0, seed=seed)
    return Scene("noise", lay, fps=fps, seed=seed, effects=[noise], duration=10.0)


@_register("demo")
def _demo(lay: Layout, fps: int, seed: int) -> Scene:
    return Scene("demo", lay, fps=fps, seed=seed, actors=[EndlessVisits(lay, seed)])


SCENE_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def make_scene(
    name: str, *, width: int = 640, height: int = 360, fps: int = 10, seed: int = 0
) -> Scene:
    """Build the named scene (one of ``SCENE_NAMES``) at the given size and frame rate."""
    builder = _BUILDERS.get(name)
    if builder is None:
        raise ValueError(f"unknown scene {name!r}; known scenes: {', '.join(SCENE_NAMES)}")
    if width % 2 or height % 2:
        # yuv420p (what H.264 cameras send) needs even sizes; catch it here, not in x264.
        raise ValueError(f"scene size must be even, got {width}x{height}")
    return builder(Layout.for_size(width, height), fps, seed)
