"""Synthetic scenes: deterministic, and the ground truth agrees with the pixels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nvr.demo.actors import Visit, VisitsActor
from nvr.demo.porch import Layout
from nvr.demo.scene import SCENE_NAMES, FrameTruth, Scene, make_scene


def changed(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    diff: np.ndarray = np.any(frame != background, axis=2)
    return diff


def box_mask(shape: tuple[int, int], truth: FrameTruth) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for x, y, w, h in truth.boxes:
        mask[y : y + h, x : x + w] = True
    return mask


def test_scene_names() -> None:
    assert set(SCENE_NAMES) >= {"static", "visitor", "walk_past", "light_ramp", "noise", "demo"}


@pytest.mark.parametrize("name", SCENE_NAMES)
def test_render_is_deterministic_in_any_order(name: str) -> None:
    a = make_scene(name, width=320, height=180, seed=3)
    b = make_scene(name, width=320, height=180, seed=3)
    order_a, order_b = [50, 7, 30, 0], [0, 7, 30, 50]
    rendered_a = {i: a.render(i) for i in order_a}
    rendered_b = {i: b.render(i) for i in order_b}
    for i in order_a:
        frame, truth = rendered_a[i]
        assert frame.shape == (180, 320, 3)
        assert frame.dtype == np.uint8
        assert np.array_equal(frame, rendered_b[i][0])
        assert truth == rendered_b[i][1]
        assert truth.index == i
        assert truth.motion == bool(truth.boxes)


def test_seed_changes_the_footage() -> None:
    assert not np.array_equal(
        make_scene("static", seed=1).render(0)[0], make_scene("static", seed=2).render(0)[0]
    )


@pytest.mark.parametrize("name", ["visitor", "walk_past"])
def test_truth_boxes_are_exactly_where_pixels_change(name: str) -> None:
    scene = make_scene(name, seed=1)
    count = scene.frame_count()
    assert count is not None
    motion_frames = 0
    for index in range(0, count, 2):
        frame, truth = scene.render(index)
        diff = changed(frame, scene.background)
        inside = box_mask(diff.shape, truth)
        assert not np.any(diff & ~inside), f"frame {index}: change outside the truth boxes"
        for x, y, w, h in truth.boxes:
            assert x >= 0
            assert y >= 0
            assert x + w <= scene.width
            assert y + h <= scene.height
            # Sprites are solid figures: a good share of each box is really covered.
            assert diff[y : y + h, x : x + w].mean() > 0.2, f"frame {index}: sparse box"
            # The box is tight: every edge row and column holds a changed pixel.
            assert diff[y, x : x + w].any()
            assert diff[y + h - 1, x : x + w].any()
            assert diff[y : y + h, x].any()
            assert diff[y : y + h, x + w - 1].any()
        motion_frames += truth.motion
    assert motion_frames > 0


def test_visitor_walks_up_stays_and_leaves() -> None:
    scene = make_scene("visitor")
    count = scene.frame_count()
    assert count is not None
    truths = [scene.render(i)[1] for i in range(count)]
    assert not truths[0].motion
    assert not truths[-1].motion
    moving = [t for t in truths if t.motion]
    assert len(moving) > count // 2
    centres = [t.boxes[0][0] + t.boxes[0][2] / 2 for t in moving]
    door_x, _y, door_w, _h = scene.layout.door
    # Arrives from the left, reaches the door, goes back out to the left.
    assert centres[0] < door_x < max(centres) < door_x + door_w * 1.5
    assert centres[-1] < door_x
    # While standing at the door the box moves a little (fidgeting), not a lot.
    at_door = [c for c in centres if abs(c - max(centres)) < door_w]
    assert len(at_door) >= scene.fps * 4
    assert len({round(c) for c in at_door}) > 1


@pytest.mark.parametrize("name", ["static", "light_ramp", "noise"])
def test_scenes_without_motion(name: str) -> None:
    scene = make_scene(name, width=320, height=180)
    count = scene.frame_count()
    assert count is not None
    frames = []
    for index in range(0, count, 10):
        frame, truth = scene.render(index)
        assert not truth.motion
        assert truth.boxes == ()
        frames.append(frame)
    means = [float(f.mean()) for f in frames]
    if name == "static":
        assert all(np.array_equal(f, scene.background) for f in frames)
    elif name == "light_ramp":
        assert min(means) < 0.7 * max(means)  # a big, slow, global change
        assert max(abs(a - b) for a, b in itertools.pairwise(means)) < 0.1 * max(means)
    else:
        diff = np.abs(frames[1].astype(int) - scene.background.astype(int))
        assert 2.0 < diff.mean() < 10.0  # sensor-like noise everywhere, small everywhere
        assert not np.array_equal(frames[1], frames[2])


def test_demo_has_visitors_every_20_to_40_seconds() -> None:
    scene = make_scene("demo", width=320, height=180, seed=5)
    assert scene.duration is None
    assert scene.frame_count() is None
    motion = [scene.render(i)[1].motion for i in range(0, 150 * scene.fps)]
    arrivals = [i / scene.fps for i in range(1, len(motion)) if motion[i] and not motion[i - 1]]
    if motion[0]:
        arrivals.insert(0, 0.0)
    assert 3.0 <= arrivals[0] <= 8.5
    assert len(arrivals) >= 4
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert all(19.5 <= g <= 40.5 for g in gaps), gaps


def test_parcel_stays_between_delivery_and_pickup_and_is_not_motion() -> None:
    layout = Layout.for_size(640, 360)
    visits = [
        Visit(start=1.0, from_left=True, stay=4.0, kind="delivery"),
        Visit(start=20.0, from_left=False, stay=3.0, kind="visitor"),
        Visit(start=40.0, from_left=True, stay=3.0, kind="pickup"),
    ]
    scene = Scene("parcels", layout, fps=10, seed=0, actors=[VisitsActor(layout, visits)])
    empty = scene.background

    def parcel_visible(t: float) -> bool:
        frame, truth = scene.render(round(t * scene.fps))
        assert not truth.motion  # only called between visits
        return bool(changed(frame, empty).any())

    assert not parcel_visible(0.5)
    assert parcel_visible(15.0)
    assert parcel_visible(35.0)  # a visitor came and went; the parcel is still there
    assert not parcel_visible(55.0)  # picked up


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="known scenes"):
        make_scene("fireworks")
    with pytest.raises(ValueError, match="even"):
        make_scene("static", width=641)
    with pytest.raises(ValueError, match=">= 0"):
        make_scene("static").render(-1)


NEW_SCENES = (
    "caller",
    "night_caller",
    "edge_peek",
    "parcel",
    "light_jump",
    "ir_switch",
    "rain",
    "masked_tree",
    "keyframe_pulse",
)


def test_new_scene_names() -> None:
    assert set(SCENE_NAMES) >= set(NEW_SCENES)


@pytest.mark.parametrize("name", ["caller", "edge_peek", "parcel", "masked_tree"])
def test_whatever_changes_between_frames_is_in_the_truth(name: str) -> None:
    # A frame without motion changes nothing since the frame before, except where that
    # one had motion: a thing standing still (the caller between movements, a parcel) is
    # drawn but is not motion.
    scene = make_scene(name, width=320, height=180, seed=2)
    count = scene.frame_count()
    assert count is not None
    previous, previous_truth = scene.render(0)
    moving = still_but_drawn = 0
    for index in range(1, count):
        frame, truth = scene.render(index)
        if not truth.motion:
            diff = changed(frame, previous)
            allowed = box_mask(diff.shape, previous_truth)
            assert not np.any(diff & ~allowed), f"frame {index}: change outside the truth"
        moving += truth.motion
        still_but_drawn += not truth.motion and bool(changed(frame, scene.background).any())
        previous, previous_truth = frame, truth
    assert moving > 0
    if name in ("caller", "parcel"):
        assert still_but_drawn > scene.fps  # seconds of someone/something lying still


def test_caller_stands_still_between_small_movements() -> None:
    scene = make_scene("caller", width=320, height=180)
    count = scene.frame_count()
    assert count is not None
    motion = [scene.render(i)[1].motion for i in range(count)]
    arrivals = sum(1 for a, b in itertools.pairwise(motion) if b and not a)
    assert arrivals >= 3  # walks in, moves now and then, walks out
    gaps = [len(list(g)) for k, g in itertools.groupby(motion[motion.index(True) :]) if not k]
    # The still spells are shorter than the default quiet period (6 s): one visit.
    assert max(gaps[:-1]) < 6 * scene.fps


@pytest.mark.parametrize("name", ["light_jump", "ir_switch", "rain", "keyframe_pulse"])
def test_whole_frame_effects_are_not_motion(name: str) -> None:
    scene = make_scene(name, width=320, height=180, seed=1)
    count = scene.frame_count()
    assert count is not None
    frames = [scene.render(i) for i in range(0, count, 5)]
    assert not any(t.motion for _f, t in frames)
    assert any(not np.array_equal(f, scene.background) for f, _t in frames)


def test_light_jump_and_ir_switch_change_the_picture_at_once() -> None:
    jump = make_scene("light_jump", width=320, height=180)
    before, after = jump.render(29)[0].mean(), jump.render(30)[0].mean()
    assert after < 0.7 * before
    ir = make_scene("ir_switch", width=320, height=180)
    day, night = ir.render(0)[0], ir.render(40)[0]
    assert not np.array_equal(day[:, :, 0], day[:, :, 2])  # colour
    assert np.array_equal(night[:, :, 0], night[:, :, 2])  # gray
    assert night.std() < 0.6 * day.std()  # low contrast


def test_masked_tree_moves_inside_its_suggested_mask() -> None:
    scene = make_scene("masked_tree", width=320, height=180)
    assert len(scene.masks) == 1
    xs = [p[0] * scene.width for p in scene.masks[0]]
    ys = [p[1] * scene.height for p in scene.masks[0]]
    for index in range(0, 40, 3):
        truth = scene.render(index)[1]
        assert truth.motion
        for x, y, w, h in truth.boxes:
            assert min(xs) <= x
            assert x + w <= max(xs)
            assert min(ys) <= y
            assert y + h <= max(ys)


def test_encoding_suggestions() -> None:
    assert make_scene("keyframe_pulse").gop_seconds < 1.0
    assert make_scene("keyframe_pulse").crf > 30
    assert make_scene("visitor").masks == ()
