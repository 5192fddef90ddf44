"""The static porch every synthetic scene is drawn on.

Contract: ``Layout.for_size(w, h)`` gives the scene geometry (where the door, the porch
floor and the step are, how tall a person standing on the porch is) for any frame size;
``draw_porch(layout, seed)`` returns the background as an ``h x w x 3`` uint8 BGR array,
the same bytes for the same ``(layout, seed)``. Both are pure; drawing is done once per
scene, so it may be a little careful about looks. Everything that moves is a sprite drawn
over this (see ``sprites.py``), which is what makes the ground truth exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Color = tuple[int, int, int]  # BGR, as OpenCV draws

# Geometry is designed on a 640x360 canvas and scaled, so every frame size looks the same.
_REF_W, _REF_H = 640.0, 360.0


@dataclass(frozen=True)
class Layout:
    """Scene geometry in pixels of one frame size."""

    width: int
    height: int
    door: tuple[int, int, int, int]  # x, y, w, h
    floor_y: int  # where the wall meets the porch floor
    foot_y: int  # where a visitor on the porch stands
    step_y: int  # top of the step below the porch
    person_h: int  # height of a person standing on the porch

    @staticmethod
    def for_size(width: int, height: int) -> Layout:
        if width < 64 or height < 36:
            raise ValueError(f"scene size {width}x{height} is too small (min 64x36)")
        sx, sy = width / _REF_W, height / _REF_H
        door = (round(352 * sx), round(92 * sy), round(76 * sx), round(168 * sy))
        return Layout(
            width=width,
            height=height,
            door=door,
            floor_y=round(260 * sy),
            foot_y=round(292 * sy),
            step_y=round(312 * sy),
            person_h=round(200 * sy),
        )

    def x(self, ref: float) -> int:
        return round(ref * self.width / _REF_W)

    def y(self, ref: float) -> int:
        return round(ref * self.height / _REF_H)


_WALL: Color = (178, 196, 206)
_SIDING_LINE: Color = (150, 168, 180)
_TRIM: Color = (235, 238, 240)
_DOOR: Color = (52, 58, 128)
_FLOOR: Color = (140, 146, 150)
_STEP: Color = (120, 126, 130)
_GRASS: Color = (60, 120, 70)
_PATH: Color = (110, 128, 150)


def draw_porch(layout: Layout, seed: int = 0) -> Image:
    """Render the empty porch: siding, door, window, lamp, floor, step, plants, path."""
    lay = layout
    w, h = lay.width, lay.height
    img = np.empty((h, w, 3), np.uint8)
    img[:] = _WALL
    # Horizontal siding boards: strong straight edges, as a real wall gives an encoder.
    pitch = max(3, lay.y(13))
    for y in range(pitch, lay.floor_y, pitch):
        cv2.line(img, (0, y), (w - 1, y), _SIDING_LINE, 1)

    _draw_window(img, lay)
    _draw_door(img, lay)
    # Wall lamp left of the door and the doorbell button right of it.
    dx, _dy, dw, _dh = lay.door
    cv2.rectangle(img, (dx - lay.x(30), lay.y(120)), (dx - lay.x(20), lay.y(140)), (40, 40, 40), -1)
    cv2.circle(img, (dx - lay.x(25), lay.y(116)), max(2, lay.x(6)), (170, 230, 250), -1)
    cv2.rectangle(
        img, (dx + dw + lay.x(8), lay.y(170)), (dx + dw + lay.x(13), lay.y(180)), (60, 60, 60), -1
    )
    # House number plate.
    cv2.rectangle(img, (dx + lay.x(20), lay.y(70)), (dx + lay.x(56), lay.y(84)), (40, 40, 40), -1)
    cv2.putText(img, "42", (dx + lay.x(27), lay.y(82)), cv2.FONT_HERSHEY_SIMPLEX, h / 900, _TRIM, 1)

    # Porch floor (with a front edge shadow), step, then grass and a path.
    img[lay.floor_y : lay.step_y] = _FLOOR
    img[lay.step_y - max(1, lay.y(3)) : lay.step_y] = _STEP
    step_left, step_right = dx - lay.x(60), dx + dw + lay.x(60)
    img[lay.step_y :] = _GRASS
    img[lay.step_y : lay.y(330), step_left:step_right] = _STEP
    img[lay.y(330) :, step_left + lay.x(10) : step_right - lay.x(10)] = _PATH
    # Doormat in front of the door.
    cv2.rectangle(
        img,
        (dx + lay.x(4), lay.floor_y + lay.y(4)),
        (dx + dw - lay.x(4), lay.y(274)),
        (40, 70, 95),
        -1,
    )

    _draw_plant(img, lay, lay.x(250), seed)
    _draw_plant(img, lay, lay.x(520), seed + 1)

    # Fixed fine texture and a soft light falloff, so the background is not flat colour
    # (flat colour would make motion detection and encoding unrealistically easy).
    rng = np.random.default_rng(seed)
    texture = rng.normal(0.0, 3.0, (h, w, 1)).astype(np.float32)
    yy = np.linspace(1.0, 0.85, h, dtype=np.float32)[:, None, None]
    xx = (1.0 - 0.12 * np.abs(np.linspace(-1.0, 1.0, w, dtype=np.float32)))[None, :, None]
    shaded = img.astype(np.float32) * yy * xx + texture
    return np.clip(shaded, 0, 255).astype(np.uint8)


def _draw_door(img: Image, lay: Layout) -> None:
    dx, dy, dw, dh = lay.door
    trim = max(2, lay.x(6))
    cv2.rectangle(img, (dx - trim, dy - trim), (dx + dw + trim, dy + dh), _TRIM, -1)
    cv2.rectangle(img, (dx, dy), (dx + dw, dy + dh), _DOOR, -1)
    darker = tuple(int(c * 0.8) for c in _DOOR)
    inset_x, inset_y = max(1, lay.x(10)), max(1, lay.y(10))
    half = dh // 2
    for top in (dy + inset_y, dy + half + inset_y // 2):
        cv2.rectangle(
            img, (dx + inset_x, top), (dx + dw - inset_x, top + half - inset_y * 3 // 2), darker, -1
        )
    cv2.circle(img, (dx + dw - lay.x(12), dy + half), max(2, lay.x(4)), (60, 180, 210), -1)


def _draw_window(img: Image, lay: Layout) -> None:
    x0, y0, x1, y1 = lay.x(90), lay.y(100), lay.x(220), lay.y(200)
    cv2.rectangle(img, (x0 - 6, y0 - 6), (x1 + 6, y1 + 6), _TRIM, -1)
    cv2.rectangle(img, (x0, y0), (x1, y1), (90, 80, 70), -1)
    # Half-drawn blinds: regular slats in the top half.
    for y in range(y0, (y0 + y1) // 2, max(2, lay.y(5))):
        cv2.line(img, (x0, y), (x1, y), (200, 205, 210), max(1, lay.y(3)))
    cv2.line(img, ((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), _TRIM, max(1, lay.x(4)))


def _draw_plant(img: Image, lay: Layout, cx: int, seed: int) -> None:
    rng = np.random.default_rng(seed + 1000)
    pot_top, pot_bottom = lay.y(244), lay.y(282)
    half_top, half_bottom = lay.x(20), lay.x(14)
    pot = np.array(
        [
            (cx - half_top, pot_top),
            (cx + half_top, pot_top),
            (cx + half_bottom, pot_bottom),
            (cx - half_bottom, pot_bottom),
        ],
        np.int32,
    )
    cv2.fillConvexPoly(img, pot, (60, 100, 170))
    for _ in range(14):
        ang = rng.uniform(-2.6, -0.5)
        length = lay.y(rng.uniform(30.0, 55.0))
        tip = (int(cx + length * np.cos(ang)), int(pot_top + length * np.sin(ang)))
        green = (int(rng.integers(30, 70)), int(rng.integers(110, 170)), int(rng.integers(40, 80)))
        axes = (max(2, length // 2), max(1, lay.x(6)))
        centre = ((cx + tip[0]) // 2, (pot_top + tip[1]) // 2)
        cv2.ellipse(img, centre, axes, float(np.degrees(ang)), 0, 360, green, -1)
