"""Synthetic doorbell scenes with the ground truth known by construction.

Contract::

    scene = make_scene("visitor", width=640, height=360, fps=10, seed=0)
    frame, truth = scene.render(index)   # H x W x 3 uint8 BGR, FrameTruth

``render`` is deterministic in ``(name, seed, index)`` (and the size), and frames may be
rendered in any order. ``truth.boxes`` are the ``(x, y, w, h)`` boxes of everything that
moves in that frame, clipped to the frame, and ``truth.motion`` is ``bool(truth.boxes)``;
``truth.faces`` are the boxes of the faces drawn (the ``"faces"`` scene);
outside the motion boxes a frame equals the empty scene's frame, except for whole-frame
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
    Caller,
    EdgePeek,
    Effect,
    EndlessVisits,
    IRSwitch,
    LightJump,
    LightRamp,
    Passerby,
    Rain,
    SensorNoise,
    SwayingTree,
    Visit,
    VisitsActor,
)
from nvr.demo.faces import SKINS, FacePlacement, FaceVisitor
from nvr.demo.porch import Image, Layout, draw_porch
from nvr.demo.sprites import PersonSprites, PersonStyle, paste, person_sprites, tree_sprites

Box = tuple[int, int, int, int]
Polygon = tuple[tuple[float, float], ...]  # (x, y) fractions of the frame, as in the config


@dataclass(frozen=True)
class FrameTruth:
    index: int
    motion: bool
    boxes: tuple[Box, ...]  # x, y, w, h in pixels of each moving thing
    faces: tuple[Box, ...] = ()  # x, y, w, h of each drawn face (the "faces" scene), clipped


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
        masks: Sequence[Polygon] = (),
        gop_seconds: float = 2.0,
        crf: int = 23,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.name = name
        self.layout = layout
        self.width, self.height = layout.width, layout.height
        self.fps = fps
        self.seed = seed
        self.duration = duration
        # Suggestions for whoever uses the scene: polygons a camera would mask (something
        # in them moves that is not worth an event), and how to encode it (keyframe
        # interval and x264 CRF) when the encoding is part of what the scene tests.
        self.masks = tuple(masks)
        self.gop_seconds = gop_seconds
        self.crf = crf
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
        faces: list[Box] = []
        for actor in self._actors:
            for placed in actor.placements(t):
                box = paste(frame, placed.sprite, placed.x, placed.y)
                if box is not None and placed.moving:
                    boxes.append(box)
                if box is not None and isinstance(placed, FacePlacement) and placed.face:
                    face = _clip_box(placed, placed.face, self.width, self.height)
                    if face is not None:
                        faces.append(face)
        for effect in self._effects:
            effect.apply(frame, index, t)
        truth = FrameTruth(index=index, motion=bool(boxes), boxes=tuple(boxes), faces=tuple(faces))
        return frame, truth

    def __repr__(self) -> str:
        return f"Scene({self.name!r}, {self.width}x{self.height}@{self.fps}, seed={self.seed})"


def _clip_box(placed: FacePlacement, box: Box, width: int, height: int) -> Box | None:
    left = placed.x - placed.sprite.anchor[0] + box[0]
    top = placed.y - placed.sprite.anchor[1] + box[1]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + box[2], width), min(top + box[3], height)
    return (x0, y0, x1 - x0, y1 - y0) if x0 < x1 and y0 < y1 else None


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


def _person(lay: Layout, seed: int, salt: int) -> PersonSprites:
    style = PersonStyle.random(np.random.default_rng([seed, salt]))
    return person_sprites(style, lay.person_h)


@_register("caller")
def _caller(lay: Layout, fps: int, seed: int) -> Scene:
    # Walks up, then stands still for seconds at a time between small movements.
    caller = Caller(lay, start=1.0, stay=10.0, sprites=_person(lay, seed, 0xCA11))
    return Scene(
        "caller", lay, fps=fps, seed=seed, actors=[caller], duration=caller.duration() + 2.0
    )


@_register("night_caller")
def _night_caller(lay: Layout, fps: int, seed: int) -> Scene:
    # The caller at night: the camera is on IR, so the picture is flat, gray and noisy.
    caller = Caller(lay, start=1.0, stay=10.0, sprites=_person(lay, seed, 0x1C11))
    ir = IRSwitch(at=0.0, seed=seed)
    return Scene(
        "night_caller",
        lay,
        fps=fps,
        seed=seed,
        actors=[caller],
        effects=[ir],
        duration=caller.duration() + 2.0,
    )


@_register("edge_peek")
def _edge_peek(lay: Layout, fps: int, seed: int) -> Scene:
    peek = EdgePeek(lay, start=1.0, sprites=_person(lay, seed, 0xED6E))
    return Scene(
        "edge_peek", lay, fps=fps, seed=seed, actors=[peek], duration=peek.duration() + 2.0
    )


@_register("parcel")
def _parcel(lay: Layout, fps: int, seed: int) -> Scene:
    # A delivery: the parcel stays on the porch, still, long after the courier left.
    visit = Visit(start=1.0, from_left=False, stay=3.0, kind="delivery", style_seed=seed)
    actor = VisitsActor(lay, [visit], seed)
    total = visit.start + visit.timing(lay)[3]
    return Scene("parcel", lay, fps=fps, seed=seed, actors=[actor], duration=total + 15.0)


@_register("light_jump")
def _light_jump(lay: Layout, fps: int, seed: int) -> Scene:
    jumps = LightJump(times=(3.0, 6.0, 9.0), gains=(0.55, 1.0, 1.4))
    return Scene("light_jump", lay, fps=fps, seed=seed, effects=[jumps], duration=12.0)


@_register("ir_switch")
def _ir_switch(lay: Layout, fps: int, seed: int) -> Scene:
    ir = IRSwitch(at=3.0, seed=seed)
    return Scene("ir_switch", lay, fps=fps, seed=seed, effects=[ir], duration=10.0)


@_register("rain")
def _rain(lay: Layout, fps: int, seed: int) -> Scene:
    return Scene("rain", lay, fps=fps, seed=seed, effects=[Rain(seed=seed)], duration=10.0)


TREE_MASK: Polygon = ((0.0, 0.05), (0.36, 0.05), (0.36, 0.88), (0.0, 0.88))


@_register("masked_tree")
def _masked_tree(lay: Layout, fps: int, seed: int) -> Scene:
    # A tree swaying in the wind at the left, inside the suggested mask TREE_MASK.
    height = round(lay.height * 0.62)
    tree = SwayingTree(tree_sprites(height, 12, seed), x=lay.x(80), y=lay.y(290))
    return Scene(
        "masked_tree", lay, fps=fps, seed=seed, actors=[tree], duration=12.0, masks=[TREE_MASK]
    )


@_register("keyframe_pulse")
def _keyframe_pulse(lay: Layout, fps: int, seed: int) -> Scene:
    # A still porch with a little sensor noise, to be encoded with a short GOP at low
    # quality: every keyframe redraws the picture differently (the "pulse").
    noise = SensorNoise(sigma=2.5, seed=seed)
    return Scene(
        "keyframe_pulse",
        lay,
        fps=fps,
        seed=seed,
        effects=[noise],
        duration=12.0,
        gop_seconds=0.5,
        crf=40,
    )


@_register("faces")
def _faces(lay: Layout, fps: int, seed: int) -> Scene:
    # A visitor who looks into the camera, turns the head left and right, and leaves: faces
    # that OpenCV's Haar cascades detect (nvr.demo.faces), for redaction (nvr.redact).
    visitor = FaceVisitor(lay, start=1.0, skin=SKINS[seed % len(SKINS)])
    return Scene(
        "faces", lay, fps=fps, seed=seed, actors=[visitor], duration=visitor.duration() + 2.0
    )


@_register("demo_faces")
def _demo_faces(lay: Layout, fps: int, seed: int) -> Scene:
    # Endless: the faces scene's visitor again every 20 s (`python -m nvr.demo --scene
    # demo_faces`), so the demo doorbell has faces to redact.
    visitor = FaceVisitor(lay, start=1.0, skin=SKINS[seed % len(SKINS)], every=20.0)
    return Scene("demo_faces", lay, fps=fps, seed=seed, actors=[visitor])


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
