"""The detector on hand-made frames: no warm-up burst, stillness absorbed, zones and masks."""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from nvr.config import MotionConfig
from nvr.motion.detector import PRESETS, Detector, DetectorSettings, ZoneSpec, rasterise

Gray = npt.NDArray[np.uint8]
H, W = 180, 320
LEFT = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
RIGHT = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))


def gray(image: object) -> Gray:
    """An OpenCV result as the uint8 image it is (OpenCV's stubs lose the dtype)."""
    return np.asarray(image, np.uint8)


def porch(seed: int = 0) -> Gray:
    """A textured still picture: gradients, edges and fine noise, like a real porch."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    img = 90 + 60 * (xx / W) + 30 * ((yy // 12) % 2)
    img = img + rng.normal(0, 3, (H, W))
    cv2.rectangle(img, (180, 40), (220, 140), 40, -1)  # a door
    return gray(np.clip(img, 0, 255))


def with_square(img: Gray, x: int, y: int, size: int = 30, value: int = 230) -> Gray:
    out = img.copy()
    out[y : y + size, x : x + size] = value
    return out


def test_first_frame_only_initialises_and_a_still_scene_is_quiet() -> None:
    det = Detector(DetectorSettings())
    bg = porch()
    first = det.process(bg)
    assert first.recalibrated
    assert not first.motion
    rng = np.random.default_rng(1)
    for _ in range(20):
        noisy = np.clip(bg + rng.normal(0, 2.5, bg.shape), 0, 255).astype(np.uint8)
        result = det.process(noisy)
        assert not result.motion
        assert not result.recalibrated


def test_a_fresh_detector_reports_nothing_on_a_busy_first_frame() -> None:
    # No warm-up burst: whatever the first frame holds becomes the background.
    det = Detector(DetectorSettings())
    busy = with_square(porch(), 20, 20, size=80)
    assert not det.process(busy).motion
    assert not det.process(busy).motion


def test_moving_square_is_motion_with_a_box_where_it_is() -> None:
    det = Detector(DetectorSettings())
    bg = porch()
    det.process(bg)
    result = det.process(with_square(bg, 40, 60))
    assert result.motion
    assert result.zones == ("all",)
    assert result.score > 0
    box = result.boxes[0]
    # The box covers the square (dilation makes it a little larger).
    assert box.x <= 40 / W <= box.x + box.w
    assert box.y <= 60 / H <= box.y + box.h
    assert 30 / W <= box.w <= 50 / W


def test_something_that_stops_moving_stops_counting() -> None:
    # A parcel put down: motion at first, absorbed by the background within ~2 s.
    settings = DetectorSettings()
    det = Detector(settings)
    bg = porch()
    det.process(bg)
    parcel = with_square(bg, 40, 100)
    verdicts = [det.process(parcel).motion for _ in range(round(4 * settings.fps))]
    assert verdicts[0]
    still_after = round(2.5 * settings.fps)
    assert not any(verdicts[still_after:]), verdicts


def test_small_movements_keep_counting() -> None:
    # Someone standing still but shifting a little every frame stays motion.
    det = Detector(DetectorSettings())
    bg = porch()
    det.process(bg)
    verdicts = []
    for i in range(30):
        x = 100 + round(4 * math.sin(i * 0.9))
        verdicts.append(det.process(with_square(bg, x, 60, size=40, value=20)).motion)
    assert all(verdicts[5:])


def test_global_light_change_is_no_motion() -> None:
    det = Detector(DetectorSettings())
    bg = porch()
    det.process(bg)
    for gain in (0.5, 0.5, 1.3, 1.3):
        result = det.process(gray(cv2.convertScaleAbs(bg, alpha=gain)))
        assert not result.motion
    # An IR-like switch: flat and shifted, same structure.
    flat = gray(cv2.convertScaleAbs(bg, alpha=0.3, beta=60))
    assert not det.process(flat).motion


def test_sudden_jump_recalibrates() -> None:
    det = Detector(DetectorSettings())
    bg = porch()
    det.process(bg)
    assert det.process(gray(cv2.convertScaleAbs(bg, alpha=1.6))).recalibrated


def test_masks_win_over_zones_and_zones_name_the_motion() -> None:
    settings = DetectorSettings(
        zones=(ZoneSpec("left", LEFT, "medium"), ZoneSpec("right", RIGHT, "medium")),
        masks=(((0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0)),),
    )
    det = Detector(settings)
    bg = porch()
    det.process(bg)
    assert not det.process(with_square(bg, 10, 60)).motion  # in the mask
    det.reset()
    det.process(bg)
    result = det.process(with_square(bg, 250, 60))
    assert result.motion
    assert result.zones == ("right",)


def test_motion_outside_every_zone_does_not_count() -> None:
    det = Detector(DetectorSettings(zones=(ZoneSpec("left", LEFT, "medium"),)))
    bg = porch()
    det.process(bg)
    assert not det.process(with_square(bg, 250, 60)).motion


def test_zone_sensitivity_overrides_the_camera() -> None:
    # A small faint change counts in a "high" zone and not in a "low" one.
    zones_high = (ZoneSpec("z", LEFT, "high"),)
    zones_low = (ZoneSpec("z", LEFT, "low"),)
    bg = porch()
    faint = with_square(bg, 40, 60, size=12, value=int(bg[60:72, 40:52].mean()) + 45)
    results = []
    for zones in (zones_high, zones_low):
        det = Detector(DetectorSettings(sensitivity="medium", zones=zones))
        det.process(bg)
        results.append(det.process(faint).motion)
    assert results == [True, False]


def test_rasterise_draws_fractions_at_any_size() -> None:
    settings = DetectorSettings(zones=(ZoneSpec("left", LEFT, "high"),), masks=(RIGHT,))
    for shape in ((90, 160), (180, 320)):
        raster = rasterise(settings, shape)
        assert raster.zone_names == ("left",)
        inside = raster.zones[0] > 0
        assert inside.mean() == pytest.approx(0.5, abs=0.02)
        assert raster.mask.mean() / 255 == pytest.approx(0.5, abs=0.02)
        assert set(np.unique(raster.thresholds)) == {PRESETS["high"].threshold, 255}


def test_from_config() -> None:
    motion = MotionConfig.model_validate(
        {
            "sensitivity": "low",
            "fps": 4,
            "analysis_height": 144,
            "zones": [
                {"name": "door", "points": [[0, 0], [1, 0], [1, 1]], "sensitivity": "high"},
                {"name": "path", "points": [[0, 0], [1, 1], [0, 1]]},
            ],
            "masks": [{"points": [[0, 0], [0.1, 0], [0.1, 0.1]]}],
        }
    )
    settings = DetectorSettings.from_config(motion)
    assert settings.fps == 4
    assert settings.analysis_height == 144
    assert [(z.name, z.sensitivity) for z in settings.zones] == [("door", "high"), ("path", "low")]
    assert settings.masks == (((0.0, 0.0), (0.1, 0.0), (0.1, 0.1)),)
    assert 0 < settings.learning_rate < 1


def test_size_change_starts_over() -> None:
    det = Detector(DetectorSettings())
    det.process(porch())
    small = gray(cv2.resize(porch(), (160, 90), interpolation=cv2.INTER_AREA))
    assert det.process(small).recalibrated
    assert det.zone_masks((90, 160)).shape == (90, 160)


def test_zone_masks_at_another_size_leave_the_detector_alone() -> None:
    det = Detector(DetectorSettings())
    bg = porch()
    det.process(bg)
    assert det.zone_masks((360, 640)).shape == (360, 640)  # e.g. tune drawing at its size
    result = det.process(with_square(bg, 40, 60))
    assert result.motion  # the background survived
    assert not result.recalibrated


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="fps"):
        DetectorSettings(fps=0)
    with pytest.raises(ValueError, match="analysis_height"):
        DetectorSettings(analysis_height=2)
