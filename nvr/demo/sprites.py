"""Sprites: small pre-drawn images with a mask, pasted onto the background each frame.

Contract: a ``Sprite`` is a BGR image, a boolean mask of the pixels it covers (cropped
tight, so the mask's bounding box *is* the sprite's box) and an anchor, the pixel that is
placed at the requested position (a person's feet, a parcel's bottom centre).
``paste(frame, sprite, x, y)`` draws it clipped to the frame and returns the box it
covers there, or ``None`` when it is wholly outside: that box is the ground truth.
``person_sprites(style, height)`` draws every pose of one person once; a scene then only
copies pixels per frame, which keeps rendering cheap enough for a Raspberry Pi.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from nvr.demo.porch import Color, Image

Box = tuple[int, int, int, int]  # x, y, w, h

WALK_PHASES = 8  # poses in one stride cycle


@dataclass(frozen=True)
class Sprite:
    image: Image
    mask: npt.NDArray[np.bool_]
    anchor: tuple[int, int]  # (x, y) inside the sprite placed at the paste position

    def flipped(self) -> Sprite:
        """The mirror image (a person walking the other way), anchor mirrored too."""
        w = self.image.shape[1]
        return Sprite(
            np.ascontiguousarray(self.image[:, ::-1]),
            np.ascontiguousarray(self.mask[:, ::-1]),
            (w - 1 - self.anchor[0], self.anchor[1]),
        )


@dataclass(frozen=True)
class PersonStyle:
    skin: Color
    hair: Color
    top: Color
    trousers: Color
    shoes: Color

    @staticmethod
    def random(rng: np.random.Generator) -> PersonStyle:
        def pick(options: list[Color]) -> Color:
            return options[int(rng.integers(len(options)))]

        return PersonStyle(
            skin=pick([(140, 180, 230), (100, 140, 190), (60, 90, 130), (45, 65, 95)]),
            hair=pick([(20, 20, 25), (30, 60, 100), (150, 190, 210), (90, 90, 95)]),
            top=pick([(40, 40, 180), (150, 90, 30), (40, 130, 40), (200, 200, 200), (30, 30, 30)]),
            trousers=pick([(90, 50, 30), (40, 40, 40), (130, 120, 110), (60, 80, 110)]),
            shoes=pick([(20, 20, 20), (230, 230, 230), (40, 60, 90)]),
        )


@dataclass(frozen=True)
class PersonSprites:
    """Every pose of one person, facing right; ``flipped`` variants face left."""

    walk: tuple[Sprite, ...]  # WALK_PHASES poses
    stand: Sprite
    ring: Sprite  # arm raised to the bell
    carry_walk: tuple[Sprite, ...]  # walking with a parcel in front
    carry_stand: Sprite


class _Canvas:
    """Draws each primitive into the image and the mask at once, so they always agree."""

    def __init__(self, w: int, h: int) -> None:
        self.image = np.zeros((h, w, 3), np.uint8)
        self.mask = np.zeros((h, w), np.uint8)

    def line(self, a: tuple[int, int], b: tuple[int, int], color: Color, thickness: int) -> None:
        cv2.line(self.image, a, b, color, thickness, cv2.LINE_8)
        cv2.line(self.mask, a, b, 255, thickness, cv2.LINE_8)

    def circle(self, c: tuple[int, int], r: int, color: Color) -> None:
        cv2.circle(self.image, c, r, color, -1, cv2.LINE_8)
        cv2.circle(self.mask, c, r, 255, -1, cv2.LINE_8)

    def rect(self, a: tuple[int, int], b: tuple[int, int], color: Color) -> None:
        cv2.rectangle(self.image, a, b, color, -1, cv2.LINE_8)
        cv2.rectangle(self.mask, a, b, 255, -1, cv2.LINE_8)

    def sprite(self, anchor: tuple[int, int]) -> Sprite:
        ys, xs = np.nonzero(self.mask)
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        return Sprite(
            np.ascontiguousarray(self.image[y0:y1, x0:x1]),
            self.mask[y0:y1, x0:x1] > 0,
            (anchor[0] - x0, anchor[1] - y0),
        )


def _limb(origin: tuple[int, int], length: float, angle_deg: float) -> tuple[int, int]:
    # Angle 0 points straight down; positive swings forward (towards +x, the facing side).
    a = math.radians(angle_deg)
    return (round(origin[0] + length * math.sin(a)), round(origin[1] + length * math.cos(a)))


def _draw_person(
    style: PersonStyle, h: int, legs: float, arms: float, reach: float = 0.0, parcel: bool = False
) -> Sprite:
    w = max(8, int(h * 0.8))
    canvas = _Canvas(w, h + 4)
    cx, foot = w // 2, h
    hip = (cx, foot - round(0.48 * h))
    shoulder = (cx, foot - round(0.80 * h))
    limb_w = max(2, round(0.075 * h))
    leg_len = 0.46 * h
    # Far leg and arm first so the near ones overlap them, as in a side view.
    for sign in (-1.0, 1.0):
        knee_foot = _limb(hip, leg_len, sign * legs)
        canvas.line(hip, knee_foot, style.trousers, limb_w)
        toe = (knee_foot[0] + max(2, round(0.05 * h)), knee_foot[1])
        canvas.line(knee_foot, toe, style.shoes, max(2, round(0.04 * h)))
    canvas.rect(
        (cx - round(0.09 * h), shoulder[1]),
        (cx + round(0.08 * h), hip[1] + round(0.03 * h)),
        style.top,
    )
    canvas.circle((cx, shoulder[1] - round(0.10 * h)), max(2, round(0.075 * h)), style.skin)
    head_top = shoulder[1] - round(0.17 * h)
    canvas.rect(
        (cx - round(0.07 * h), head_top),
        (cx + round(0.06 * h), head_top + round(0.04 * h)),
        style.hair,
    )
    arm_len = 0.34 * h
    far_hand = _limb(shoulder, arm_len, -arms)
    canvas.line(shoulder, far_hand, style.top, max(2, round(0.06 * h)))
    near_angle = reach if reach else arms
    near_hand = _limb(shoulder, arm_len, near_angle)
    canvas.line(shoulder, near_hand, style.top, max(2, round(0.06 * h)))
    canvas.circle(near_hand, max(1, round(0.03 * h)), style.skin)
    if parcel:
        # Held in front at waist height: part of the person's box while carried.
        size = round(0.22 * h)
        x0, y0 = cx + round(0.06 * h), hip[1] - round(0.18 * h)
        canvas.rect((x0, y0), (x0 + size, y0 + size), _PARCEL)
    return canvas.sprite((cx, foot))


_PARCEL: Color = (70, 130, 175)


def person_sprites(style: PersonStyle, height: int) -> PersonSprites:
    """Draw all poses of one person ``height`` pixels tall (about 1 ms per pose)."""
    swing = [28.0 * math.sin(2 * math.pi * i / WALK_PHASES) for i in range(WALK_PHASES)]
    return PersonSprites(
        walk=tuple(_draw_person(style, height, s, s * 0.8) for s in swing),
        stand=_draw_person(style, height, 3.0, 4.0),
        ring=_draw_person(style, height, 3.0, 4.0, reach=100.0),
        carry_walk=tuple(_draw_person(style, height, s, 10.0, 70.0, True) for s in swing),
        carry_stand=_draw_person(style, height, 3.0, 10.0, 70.0, True),
    )


def parcel_sprite(height: int) -> Sprite:
    """A cardboard box with tape, ``height`` pixels tall, anchored at its bottom centre."""
    w = round(height * 1.4)
    canvas = _Canvas(w, height)
    canvas.rect((0, 0), (w - 1, height - 1), _PARCEL)
    canvas.line((w // 2, 0), (w // 2, height - 1), (160, 200, 215), max(1, height // 8))
    return canvas.sprite((w // 2, height))


def paste(frame: Image, sprite: Sprite, x: int, y: int) -> Box | None:
    """Draw ``sprite`` with its anchor at ``(x, y)``, clipped; return the covered box."""
    fh, fw = frame.shape[:2]
    sh, sw = sprite.mask.shape
    left, top = x - sprite.anchor[0], y - sprite.anchor[1]
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + sw, fw), min(top + sh, fh)
    if x0 >= x1 or y0 >= y1:
        return None
    sub_mask = sprite.mask[y0 - top : y1 - top, x0 - left : x1 - left]
    np.copyto(
        frame[y0:y1, x0:x1],
        sprite.image[y0 - top : y1 - top, x0 - left : x1 - left],
        where=sub_mask[:, :, None],
    )
    # Clipping can cut the sprite's own empty margins into the box; shrink to drawn pixels.
    rows, cols = np.any(sub_mask, axis=1), np.any(sub_mask, axis=0)
    if not rows.any():
        return None
    r0, r1 = int(np.argmax(rows)), len(rows) - int(np.argmax(rows[::-1]))
    c0, c1 = int(np.argmax(cols)), len(cols) - int(np.argmax(cols[::-1]))
    return (x0 + c0, y0 + r0, c1 - c0, r1 - r0)


_BARK: Color = (40, 60, 85)
_LEAVES: tuple[Color, ...] = ((40, 110, 50), (30, 90, 40), (60, 140, 70), (35, 125, 85))


def tree_sprites(height: int, phases: int, seed: int = 0) -> tuple[Sprite, ...]:
    """A small tree ``height`` pixels tall in ``phases`` poses of one sway cycle (bent
    left, upright, bent right, ...); the crown moves more than the trunk, as in wind."""
    rng = np.random.default_rng([seed, 0x7EE])
    w = max(8, round(height * 1.1))
    trunk_w = max(2, round(0.07 * height))
    # The crown: blobs at fixed spots relative to the top of the trunk.
    blobs = [
        (
            float(rng.uniform(-0.28, 0.28)),  # x offset, in heights
            float(rng.uniform(-0.32, 0.02)),  # y offset above the trunk top
            float(rng.uniform(0.09, 0.16)),  # radius
            _LEAVES[int(rng.integers(len(_LEAVES)))],
        )
        for _ in range(12)
    ]
    sprites = []
    for k in range(phases):
        bend = 0.07 * height * math.sin(2 * math.pi * k / phases)
        canvas = _Canvas(w, height)
        base = (w // 2, height - 1)
        top = (round(w / 2 + bend * 0.6), round(0.55 * height))
        canvas.line(base, top, _BARK, trunk_w)
        for dx, dy, r, colour in blobs:
            cx = round(top[0] + dx * height + bend * (0.4 - dy))
            cy = round(top[1] + dy * height)
            canvas.circle((cx, cy), max(2, round(r * height)), colour)
        sprites.append(canvas.sprite(base))
    return tuple(sprites)
