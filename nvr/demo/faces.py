"""Visitors whose faces a face detector really finds: footage for redaction.

Contract: ``face_sprite(height, pose, skin)`` draws a head and shoulders whose face (the
oval from brow to chin, ``height`` pixels tall) OpenCV's Haar cascades detect: the
frontal cascades for ``pose="front"``, the profile cascade for ``"left"`` (a three-quarter
turn to the viewer's left) and, on the mirrored image, for ``"right"``. The sprite's
anchor is the centre of the face, and ``FaceSprite.face`` is the face's box relative to
the sprite's top left corner (what the scene reports as ground truth).
``FaceVisitor`` walks up to the camera (the face grows as they come closer), stands,
turns the head left then right, and walks out; a pure function of time, like every actor.

How the face is made: Haar cascades respond to luminance layout, not to realism: dark eye
sockets and brows under a brighter forehead, a bright bridge between the eyes, a shaded
nose tip and a dark mouth, inside a lighter oval framed by darker hair. The face is drawn
with ellipses at 4x the target size, smoothed with a Gaussian (so edges are soft, as a
real face's are after a camera's optics) and scaled down with area averaging. The
three-quarter pose shifts the features towards one side and shrinks the far eye: a pure
side view drawn this way is found by neither cascade (tried), a three-quarter one by the
profile cascade. Verified empirically (tests/redact/test_faces.py): frontal faces from
30 pixels tall, turned ones from 40 (at 30 the left turn is missed). Skin tones are light
to medium (``SKINS``); darker ones are not offered because little contrast between eye
sockets and skin is a known weakness of Haar cascades, a caveat for real footage too
(docs/design/redaction.md), not something the test scene should hide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from nvr.demo.actors import Placement
from nvr.demo.porch import Color, Layout
from nvr.demo.sprites import Box, Sprite

Pose = Literal["front", "left", "right"]

SKINS: tuple[Color, ...] = ((150, 180, 215), (120, 155, 200), (100, 135, 180))
_HAIR: Color = (30, 30, 35)
_EYE: Color = (40, 40, 50)
_BROW: Color = (40, 45, 60)
_LIPS: Color = (50, 50, 120)
_SHIRT: Color = (120, 70, 40)
_SUPER = 4  # drawn at 4x, then averaged down
_TURN = 0.18  # how far the features shift in a three-quarter pose (fraction of face width)


@dataclass(frozen=True)
class FaceSprite:
    sprite: Sprite
    face: Box  # x, y, w, h of the face in the sprite


def face_sprite(height: int, pose: Pose = "front", skin: Color = SKINS[0]) -> FaceSprite:
    """Head and shoulders with a face ``height`` pixels tall; see the module docstring."""
    if height < 8:
        raise ValueError(f"face height must be at least 8 pixels, got {height}")
    if pose == "right":
        left = face_sprite(height, "left", skin)
        x, y, w, h = left.face
        width = left.sprite.image.shape[1]
        return FaceSprite(left.sprite.flipped(), (width - x - w, y, w, h))
    s = _SUPER
    fh = height * s
    fw = round(fh * 0.8)
    turn = _TURN if pose == "left" else 0.0
    width = round(fw * 2.0)
    total = round(fh * 2.6)  # head, neck and shoulders down to the chest
    image = np.zeros((total, width, 3), np.uint8)
    image[:] = _SHIRT  # blends the soft edge of the shoulders into their own colour
    mask = np.zeros((total, width), np.uint8)
    cx, cy = width // 2, round(fh * 0.62)  # centre of the face
    shift = round(turn * fw)

    # Shoulders and neck first, then hair (behind the face), then the face.
    shoulders = np.array(
        [
            (cx - round(fw * 0.35), cy + round(fh * 0.45)),
            (cx + round(fw * 0.35), cy + round(fh * 0.45)),
            (cx + round(fw * 0.95), cy + round(fh * 0.85)),
            (cx + round(fw * 0.95), total - 1),
            (cx - round(fw * 0.95), total - 1),
            (cx - round(fw * 0.95), cy + round(fh * 0.85)),
        ],
        np.int32,
    )
    cv2.fillPoly(image, [shoulders], _SHIRT)
    cv2.fillPoly(mask, [shoulders], 255)
    neck = (
        (cx - round(fw * 0.18), cy + round(fh * 0.3)),
        (cx + round(fw * 0.18), total // 2 + fh // 2),
    )
    dark_skin = tuple(int(c * 0.8) for c in skin)
    cv2.rectangle(image, neck[0], neck[1], dark_skin, -1)
    cv2.rectangle(mask, neck[0], neck[1], 255, -1)
    hair_c = (cx + shift // 3, cy)
    cv2.ellipse(image, hair_c, (fw // 2, fh // 2), 0, 0, 360, _HAIR, -1)
    cv2.ellipse(mask, hair_c, (fw // 2, fh // 2), 0, 0, 360, 255, -1)
    cv2.ellipse(
        image, (cx, cy + fh // 16), (round(fw * 0.46), round(fh * 0.46)), 0, 0, 360, skin, -1
    )
    # Eyes and brows: the far eye (right, in a turn to the left) is foreshortened.
    ey, ex = cy - fh // 12, round(fw * 0.2 * (1 - turn))
    for side in (-1, 1):
        k = 1.0 - (turn * 1.8 if side > 0 else 0.0)
        x = cx - shift + side * ex
        cv2.ellipse(image, (x, ey), (round(fw * 0.11 * k), round(fh * 0.045)), 0, 0, 360, _EYE, -1)
        brow = (x, ey - round(fh * 0.09))
        cv2.ellipse(image, brow, (round(fw * 0.13 * k), round(fh * 0.025)), 0, 0, 360, _BROW, -1)
    shade = tuple(int(c * 0.75) for c in skin)
    nose = (cx - round(shift * 1.3), cy + fh // 10)
    cv2.ellipse(image, nose, (round(fw * 0.07), round(fh * 0.05)), 0, 0, 360, shade, -1)
    mouth = (cx - shift, cy + round(fh * 0.25))
    cv2.ellipse(
        image, mouth, (round(fw * 0.17 * (1 - turn)), round(fh * 0.04)), 0, 0, 360, _LIPS, -1
    )
    if turn:  # the back of the head shows on the far side
        back = (cx + round(fw * 0.35), cy)
        cv2.ellipse(
            image, back, (round(fw * 0.36 * turn) + 1, round(fh * 0.4)), 0, 0, 360, _HAIR, -1
        )
    soft = cv2.GaussianBlur(image, (0, 0), s * 1.5)
    size = (width // s, total // s)
    small = np.ascontiguousarray(cv2.resize(soft, size, interpolation=cv2.INTER_AREA), np.uint8)
    small_mask = cv2.resize(mask, size, interpolation=cv2.INTER_AREA) >= 128
    anchor = (cx // s, cy // s)
    face_w, face_h = round(fw * 0.92) // s, round(fh * 0.92) // s
    face = (anchor[0] - face_w // 2, anchor[1] + fh // 16 // s - face_h // 2, face_w, face_h)
    return FaceSprite(Sprite(small, small_mask, anchor), face)


class _Cache:
    def __init__(self, skin: Color) -> None:
        self.skin = skin
        self._sprites: dict[tuple[int, Pose], FaceSprite] = {}

    def get(self, height: int, pose: Pose) -> FaceSprite:
        key = (height, pose)
        found = self._sprites.get(key)
        if found is None:
            if len(self._sprites) >= 64:
                self._sprites.pop(next(iter(self._sprites)))
            found = self._sprites[key] = face_sprite(height, pose, self.skin)
        return found


@dataclass(frozen=True)
class FacePlacement(Placement):
    face: Box | None = None  # the face's box in the sprite (x, y, w, h)


class FaceVisitor:
    """Someone walking up to a doorbell camera, looking into it, turning their head, leaving.

    Times are seconds from ``start``: walking in for ``walk`` seconds (the face grows from
    ``near[0]`` to ``near[1]`` of the frame height as they come closer), facing the camera
    for ``look`` seconds, the head turned to the left then to the right for ``turn``
    seconds each, then walking out to the right for ``walk`` seconds; again every
    ``every`` seconds if given (the endless demo).
    """

    def __init__(
        self,
        layout: Layout,
        *,
        start: float = 1.0,
        walk: float = 2.5,
        look: float = 2.0,
        turn: float = 1.5,
        near: tuple[float, float] = (0.15, 0.24),
        skin: Color = SKINS[0],
        every: float | None = None,
    ) -> None:
        self.layout = layout
        self.every = every  # repeat the visit every so many seconds (None: once)
        self.start, self.walk, self.look, self.turn = start, walk, look, turn
        self.near = near
        self._sprites = _Cache(skin)

    def duration(self) -> float:
        return 2 * self.walk + self.look + 2 * self.turn

    def placements(self, t: float) -> Sequence[Placement]:
        lay = self.layout
        rel = t - self.start
        if self.every is not None and rel >= 0:
            rel %= self.every
        if rel < 0 or rel >= self.duration():
            return []
        small, big = (round(f * lay.height) for f in self.near)
        x_door = lay.door[0] + lay.door[2] // 2
        y_face = round(lay.height * 0.38)
        pose: Pose = "front"
        stay = rel - self.walk
        if rel < self.walk:  # coming in from the left, closer and closer
            frac = rel / self.walk
            height = round(small + (big - small) * frac)
            x = -big + (x_door + big) * frac
        elif stay < self.look + 2 * self.turn:
            height = big
            x = x_door + 0.04 * big * math.sin(2 * math.pi * stay / 2.0)
            if stay >= self.look:
                pose = "left" if stay < self.look + self.turn else "right"
        else:  # leaving to the right, a little further away
            frac = (stay - self.look - 2 * self.turn) / self.walk
            height = round(big + (small - big) * frac)
            x = x_door + (lay.width + big - x_door) * frac
        height += height % 2  # fewer distinct sprites to draw
        drawn = self._sprites.get(max(8, height), pose)
        return [FacePlacement(drawn.sprite, round(x), y_face, face=drawn.face)]
