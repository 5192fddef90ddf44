"""What moves in a synthetic scene, as pure functions of time.

Contract: an ``Actor`` answers ``placements(t)`` — which sprites are where at ``t`` seconds
— and an ``Effect`` changes a whole frame in place (lighting, sensor noise). Both are
deterministic in ``t`` (or the frame index) and hold no clock, so any frame can be
rendered on its own, in any order, and the same seed always gives the same footage.
Placements marked ``moving`` are the ground truth's boxes; a parcel lying on the step is
drawn but is not motion.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from nvr.demo.porch import Image, Layout
from nvr.demo.sprites import WALK_PHASES, PersonSprites, PersonStyle, Sprite, parcel_sprite
from nvr.demo.sprites import person_sprites as draw_person_sprites


@dataclass(frozen=True)
class Placement:
    sprite: Sprite
    x: int  # where the sprite's anchor goes
    y: int
    moving: bool = True


class Actor(Protocol):
    def placements(self, t: float) -> Sequence[Placement]: ...


class Effect(Protocol):
    def apply(self, frame: Image, index: int, t: float) -> None: ...


VisitKind = Literal["visitor", "delivery", "pickup"]

_RING_AT, _RING_FOR = 0.5, 1.0  # seconds into the stay: press the bell
_HANDOVER_AT = 1.0  # seconds into the stay: parcel put down / picked up
_SPEED = 0.7  # walking speed in person-heights per second (about 1.2 m/s)
_STRIDE = 0.9  # one full stride cycle in person-heights


@dataclass(frozen=True)
class Visit:
    """One person coming to the door: walk in, stay, walk back out the way they came."""

    start: float
    from_left: bool
    stay: float
    kind: VisitKind = "visitor"
    style_seed: int = 0

    def timing(self, lay: Layout) -> tuple[float, float, float, float]:
        """(x_outside, x_door, walk seconds, total seconds) for this layout."""
        x_out = -0.5 * lay.person_h if self.from_left else lay.width + 0.5 * lay.person_h
        x_door = lay.door[0] + lay.door[2] * 0.5
        walk = abs(x_door - x_out) / (_SPEED * lay.person_h)
        return x_out, x_door, walk, 2 * walk + self.stay

    def handover_time(self, lay: Layout) -> float:
        return self.start + self.timing(lay)[2] + _HANDOVER_AT


def visit_placement(
    visit: Visit, sprites: PersonSprites, lay: Layout, t: float
) -> Placement | None:
    """Where the visitor is at absolute time ``t`` (``None`` before and after the visit)."""
    x_out, x_door, walk, total = visit.timing(lay)
    rel = t - visit.start
    if rel < 0 or rel >= total:
        return None
    carrying_in = visit.kind == "delivery"
    carrying_out = visit.kind == "pickup"
    h = lay.person_h
    if rel < walk or rel >= walk + visit.stay:
        leaving = rel >= walk
        frac = (rel - walk - visit.stay) / walk if leaving else rel / walk
        x = x_door + (x_out - x_door) * frac if leaving else x_out + (x_door - x_out) * frac
        phase = int(abs(x - x_out) / (_STRIDE * h) * WALK_PHASES) % WALK_PHASES
        carrying = carrying_out if leaving else carrying_in
        sprite = (sprites.carry_walk if carrying else sprites.walk)[phase]
        facing_right = visit.from_left != leaving
    else:
        stay_t = rel - walk
        # Small fidgeting while waiting, so a standing visitor is still (a little) motion.
        x = x_door + 0.012 * h * math.sin(2 * math.pi * stay_t / 2.5)
        handed = stay_t >= _HANDOVER_AT
        if visit.kind == "visitor" and _RING_AT <= stay_t < _RING_AT + _RING_FOR:
            sprite = sprites.ring
        elif (visit.kind == "delivery" and not handed) or (visit.kind == "pickup" and handed):
            sprite = sprites.carry_stand
        else:
            sprite = sprites.stand
        facing_right = visit.from_left
    if not facing_right:
        sprite = sprite.flipped()
    return Placement(sprite, round(x), lay.foot_y)


def parcel_spot(visit: Visit, lay: Layout) -> tuple[int, int]:
    """Where a delivered parcel lies: on the porch at the visitor's feet."""
    offset = 0.12 * lay.person_h * (1 if visit.from_left else -1)
    return round(lay.door[0] + lay.door[2] * 0.5 + offset), lay.foot_y + lay.y(4)


class _SpriteCache:
    """Person sprites per style seed; small, since only one or two visitors are on screen."""

    def __init__(self, height: int, seed: int, size: int = 4) -> None:
        self._height, self._seed, self._size = height, seed, size
        self._cache: dict[int, PersonSprites] = {}

    def get(self, style_seed: int) -> PersonSprites:
        found = self._cache.get(style_seed)
        if found is None:
            if len(self._cache) >= self._size:
                self._cache.pop(next(iter(self._cache)))
            style = PersonStyle.random(np.random.default_rng([self._seed, style_seed]))
            found = self._cache[style_seed] = draw_person_sprites(style, self._height)
        return found


class VisitsActor:
    """People coming to the door one after another (sorted by start, not overlapping).

    A delivery leaves a parcel on the porch; it lies there (drawn, not motion) until a
    pickup visit takes it away.
    """

    def __init__(self, layout: Layout, visits: Sequence[Visit] = (), seed: int = 0) -> None:
        self.layout = layout
        self._visits: list[Visit] = []
        # _waiting[k]: the delivery whose parcel lies on the porch when visit k starts.
        self._waiting: list[Visit | None] = []
        self._sprites = _SpriteCache(layout.person_h, seed)
        self._parcel = parcel_sprite(max(4, round(layout.person_h * 0.16)))
        for visit in visits:
            self._append(visit)

    def _append(self, visit: Visit) -> None:
        if self._visits:
            prev, waiting = self._visits[-1], self._waiting[-1]
            if prev.kind == "delivery":
                waiting = prev
            elif prev.kind == "pickup":
                waiting = None
        else:
            waiting = None
        self._visits.append(visit)
        self._waiting.append(waiting)

    def _extend_to(self, t: float) -> None:
        """Hook for endless schedules: make sure every visit starting before ``t`` exists."""

    def placements(self, t: float) -> Sequence[Placement]:
        self._extend_to(t)
        k = bisect.bisect_right(self._visits, t, key=lambda v: v.start) - 1
        if k < 0:
            return []
        visit, out = self._visits[k], []
        parcel = self._waiting[k]
        handed = t >= visit.handover_time(self.layout)
        if visit.kind == "delivery" and handed:
            parcel = visit
        elif visit.kind == "pickup" and handed:
            parcel = None
        if parcel is not None:
            x, y = parcel_spot(parcel, self.layout)
            out.append(Placement(self._parcel, x, y, moving=False))
        person = visit_placement(visit, self._sprites.get(visit.style_seed), self.layout, t)
        if person is not None:
            out.append(person)
        return out


class EndlessVisits(VisitsActor):
    """The demo's doorstep: a visit every 20-40 s, forever, the same for the same seed."""

    def __init__(self, layout: Layout, seed: int = 0) -> None:
        super().__init__(layout, (), seed)
        self._rng = np.random.default_rng([seed, 0xD00B])
        self._next_start = float(self._rng.uniform(3.0, 8.0))  # something happens soon

    def _extend_to(self, t: float) -> None:
        # The rng is consumed strictly in schedule order, so frame k looks the same whether
        # frames are rendered in order or not.
        while self._next_start <= t:
            rng = self._rng
            parcel_waiting = bool(self._visits) and (
                self._visits[-1].kind == "delivery"
                or (self._visits[-1].kind == "visitor" and self._waiting[-1] is not None)
            )
            if parcel_waiting:
                kind: VisitKind = "pickup" if rng.random() < 0.6 else "visitor"
            else:
                kind = "delivery" if rng.random() < 0.3 else "visitor"
            self._append(
                Visit(
                    start=self._next_start,
                    from_left=bool(rng.random() < 0.5),
                    stay=float(rng.uniform(3.0, 8.0)),
                    kind=kind,
                    style_seed=len(self._visits),
                )
            )
            self._next_start += float(rng.uniform(20.0, 40.0))


@dataclass(frozen=True)
class Passerby:
    """Someone walking along the bottom edge of the frame, cut off below the waist."""

    layout: Layout
    start: float
    sprites: PersonSprites

    def placements(self, t: float) -> Sequence[Placement]:
        lay, h = self.layout, self.sprites.stand.mask.shape[0]
        distance = (t - self.start) * _SPEED * h
        x = -0.5 * h + distance
        if t < self.start or x > lay.width + 0.5 * h:
            return []
        phase = int(distance / (_STRIDE * h) * WALK_PHASES) % WALK_PHASES
        return [Placement(self.sprites.walk[phase], round(x), lay.height + round(0.3 * h))]


@dataclass(frozen=True)
class LightRamp:
    """Slow global brightness change (clouds, dusk): down by ``depth`` and back per period."""

    period: float = 40.0
    depth: float = 0.5

    def gain(self, t: float) -> float:
        return 1.0 - self.depth * (1.0 - math.cos(2 * math.pi * t / self.period)) / 2

    def apply(self, frame: Image, index: int, t: float) -> None:
        cv2.convertScaleAbs(frame, dst=frame, alpha=self.gain(t))


@dataclass(frozen=True)
class SensorNoise:
    """Independent Gaussian noise per pixel and frame, seeded by (seed, frame index)."""

    sigma: float = 6.0
    seed: int = 0

    def apply(self, frame: Image, index: int, t: float) -> None:
        rng = np.random.default_rng([self.seed, index, 0x5E])
        noise = rng.standard_normal(frame.shape, dtype=np.float32) * self.sigma
        np.clip(frame + noise, 0, 255, out=noise)
        frame[:] = noise.astype(np.uint8)


_SETTLE = 0.25  # seconds


@dataclass(frozen=True)
class Caller:
    """A visitor who walks up, stands at the door and moves only now and then.

    While standing they are perfectly still (drawn, not motion) except during
    ``moves``: (start, seconds) spans counted from their arrival at the door, in which
    they sway and raise an arm to the bell, and which are motion, as are the first
    ``_SETTLE`` seconds after arriving and after each move (the frames showing the last
    change of pose).
    """

    layout: Layout
    start: float
    stay: float
    sprites: PersonSprites
    moves: tuple[tuple[float, float], ...] = ((1.0, 1.0), (4.0, 0.8), (7.5, 1.2))
    from_left: bool = True

    def _visit(self) -> Visit:
        return Visit(start=self.start, from_left=self.from_left, stay=self.stay)

    def duration(self) -> float:
        return self._visit().timing(self.layout)[3]

    def placements(self, t: float) -> Sequence[Placement]:
        visit = self._visit()
        _x_out, x_door, walk, total = visit.timing(self.layout)
        rel = t - self.start
        if rel < 0 or rel >= total:
            return []
        stay_t = rel - walk
        if stay_t < 0 or stay_t >= self.stay:
            placed = visit_placement(visit, self.sprites, self.layout, t)
            return [] if placed is None else [placed]
        # Settling counts as moving: the frame that shows the last change of pose (the
        # end of a step or a sway) is motion at that frame, as a detector sees it.
        settling = stay_t < _SETTLE or any(
            m0 + seconds <= stay_t < m0 + seconds + _SETTLE for m0, seconds in self.moves
        )
        sprite, x, moving = self.sprites.stand, x_door, settling
        for m0, seconds in self.moves:
            if m0 <= stay_t < m0 + seconds:
                phase = (stay_t - m0) / seconds
                x = x_door + 0.05 * self.layout.person_h * math.sin(2 * math.pi * phase)
                sprite = self.sprites.ring if 0.25 <= phase < 0.75 else sprite
                moving = True
        if not self.from_left:
            sprite = sprite.flipped()
        return [Placement(sprite, round(x), self.layout.foot_y, moving=moving)]


@dataclass(frozen=True)
class EdgePeek:
    """Someone who steps in at the left edge of the frame, turns and walks back out."""

    layout: Layout
    start: float
    sprites: PersonSprites
    depth: float = 0.2  # how far into the frame (fraction of the width) the body's centre gets

    def duration(self) -> float:
        h = int(self.sprites.stand.mask.shape[0])
        return 2 * (self.depth * self.layout.width + 0.5 * h) / (_SPEED * h)

    def placements(self, t: float) -> Sequence[Placement]:
        lay, h = self.layout, self.sprites.stand.mask.shape[0]
        rel, total = t - self.start, self.duration()
        if rel < 0 or rel >= total:
            return []
        reach = self.depth * lay.width + 0.5 * h
        distance = _SPEED * h * rel
        leaving = distance > reach
        x = -0.5 * h + (2 * reach - distance if leaving else distance)
        phase = int(distance / (_STRIDE * h) * WALK_PHASES) % WALK_PHASES
        sprite = self.sprites.walk[phase]
        if leaving:
            sprite = sprite.flipped()
        return [Placement(sprite, round(x), lay.foot_y)]


@dataclass(frozen=True)
class SwayingTree:
    """A tree in the wind: its pose changes every frame, so it is always motion (the
    scenes that have one put a mask over it)."""

    sprites: tuple[Sprite, ...]
    x: int
    y: int
    period: float = 1.6  # seconds per sway cycle

    def placements(self, t: float) -> Sequence[Placement]:
        # Gusts: the sway's speed wobbles, so consecutive frames never repeat exactly.
        phase = t / self.period + 0.15 * math.sin(2 * math.pi * t / 5.3)
        k = int(phase * len(self.sprites)) % len(self.sprites)
        return [Placement(self.sprites[k], self.x, self.y)]


@dataclass(frozen=True)
class LightJump:
    """Sudden global brightness changes (a cloud, headlights, a porch lamp): the gain is
    ``gains[k]`` from ``times[k]`` on (1.0 before the first)."""

    times: tuple[float, ...] = (3.0, 7.0)
    gains: tuple[float, ...] = (0.55, 1.0)

    def gain(self, t: float) -> float:
        k = bisect.bisect_right(self.times, t)
        return 1.0 if k == 0 else self.gains[k - 1]

    def apply(self, frame: Image, index: int, t: float) -> None:
        gain = self.gain(t)
        if gain != 1.0:
            cv2.convertScaleAbs(frame, dst=frame, alpha=gain)


@dataclass(frozen=True)
class IRSwitch:
    """The camera's day/night switch: from ``at`` seconds on the picture is gray, flat
    (``contrast`` of the day's spread around a mid level) and noisier, as under IR light."""

    at: float = 3.0
    contrast: float = 0.35
    level: float = 110.0
    sigma: float = 3.0
    seed: int = 0

    def apply(self, frame: Image, index: int, t: float) -> None:
        if t < self.at:
            return
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
        flat = self.level + self.contrast * (gray - float(gray.mean()))
        rng = np.random.default_rng([self.seed, index, 0x1A])
        flat += rng.standard_normal(flat.shape, dtype=np.float32) * self.sigma
        out = np.clip(flat, 0, 255).astype(np.uint8)
        cv2.cvtColor(out, cv2.COLOR_GRAY2BGR, dst=frame)


@dataclass(frozen=True)
class Rain:
    """Rain: short bright slanted streaks at random places, new ones every frame."""

    drops: int = 400  # streaks per frame at 640x360 (scaled with the area)
    seed: int = 0

    def apply(self, frame: Image, index: int, t: float) -> None:
        h, w = frame.shape[:2]
        rng = np.random.default_rng([self.seed, index, 0x2A1])
        count = max(1, round(self.drops * w * h / (640 * 360)))
        seeds = np.zeros((h, w), np.float32)
        seeds[rng.integers(0, h, count), rng.integers(0, w, count)] = 1.0
        length = max(3, round(h / 30))
        kernel = np.zeros((length, length), np.float32)
        for i in range(length):  # a slanted line: rain falling with a little wind
            kernel[i, min(length - 1, i // 3)] = 1.0
        streaks = cv2.filter2D(seeds, -1, kernel)
        light = np.clip(streaks * 70.0, 0, 255).astype(np.uint8)
        cv2.add(frame, cv2.cvtColor(light, cv2.COLOR_GRAY2BGR), dst=frame)
