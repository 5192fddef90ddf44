"""The synthetic faces are faces to OpenCV's Haar cascades; the tracker keeps lost faces."""

from __future__ import annotations

import numpy as np
import pytest

from nvr.demo.faces import SKINS, face_sprite
from nvr.demo.scene import make_scene
from nvr.demo.sprites import paste
from nvr.redact.faces import FaceDetector, TrackedBox, iou, track


def on_wall(
    height: int, pose: str, skin: tuple[int, int, int]
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    drawn = face_sprite(height, pose, skin)  # type: ignore[arg-type]
    frame = np.full((height * 4, height * 5, 3), (178, 196, 206), np.uint8)
    x, y = height * 5 // 2, height * 3 // 2
    paste(frame, drawn.sprite, x, y)
    fx, fy, fw, fh = drawn.face
    ax, ay = drawn.sprite.anchor
    return frame, (x - ax + fx, y - ay + fy, fw, fh)


@pytest.mark.parametrize("height", [40, 100])
@pytest.mark.parametrize("pose", ["front", "left", "right"])
@pytest.mark.parametrize("skin", SKINS)
def test_drawn_faces_are_detected(height: int, pose: str, skin: tuple[int, int, int]) -> None:
    detector = FaceDetector()
    frame, face = on_wall(height, pose, skin)
    found = detector.detect(frame)
    assert any(iou(box, face) > 0.3 for box in found), (found, face)


def test_turned_faces_are_found_by_the_profile_cascade_only_when_mirrored_right() -> None:
    """The three-quarter poses exercise the profile cascade, both ways round."""
    detector = FaceDetector()
    for pose, mirrored in (("left", False), ("right", True)):
        frame, _ = on_wall(60, pose, SKINS[0])
        gray = frame.mean(axis=2).astype(np.uint8)
        if mirrored:
            gray = np.ascontiguousarray(gray[:, ::-1])
        assert detector._run(detector._profile, gray), pose


@pytest.mark.parametrize(("width", "height"), [(320, 180), (640, 360)])
def test_faces_scene_is_detected_in_most_frames(width: int, height: int) -> None:
    scene = make_scene("faces", width=width, height=height, fps=5, seed=1)
    count = scene.frame_count()
    assert count is not None
    detector = FaceDetector()
    with_face = found = 0
    for index in range(0, count, 2 if width < 640 else 4):
        frame, truth = scene.render(index)
        boxes = detector.detect(frame)
        if not truth.faces:
            assert boxes == [], f"frame {index}: a face where none is drawn"
            continue
        x, _, w, _ = truth.faces[0]
        if x == 0 or x + w == width:
            continue  # cut by the frame's edge: not required
        with_face += 1
        found += any(iou(box, truth.faces[0]) > 0.2 for box in boxes)
    assert with_face >= 10
    assert found >= 0.9 * with_face


def test_tracking_holds_a_lost_face_forwards_and_backwards() -> None:
    face = (100, 50, 40, 40)
    moved = (110, 50, 40, 40)
    detections: list[list[tuple[int, int, int, int]]] = [
        [],
        [],
        [face],
        [moved],
        [],  # missed
        [],  # missed
        [(140, 50, 40, 40)],
        [],
        [],
        [],
        [],
        [],
    ]
    boxes = track(detections, hold=3)
    assert [len(b) for b in boxes[:2]] == [1, 1]  # held before the first detection
    assert all(not b.detected for b in boxes[0] + boxes[1])
    assert boxes[2] == [TrackedBox(face, True)]
    predicted = [b for b in boxes[4] if not b.detected]
    # Predicted from the motion (10 px a frame), so it covers the face where it really is.
    assert any(iou(b.box, (120, 50, 40, 40)) > 0.6 for b in predicted)
    assert len(boxes[5]) >= 1
    assert [len(b) for b in boxes[7:10]] == [1, 1, 1]  # hold = 3 frames after the last
    assert boxes[10] == boxes[11] == []
    with pytest.raises(ValueError, match="hold"):
        track(detections, hold=-1)
