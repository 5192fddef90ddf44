"""Camera entries: names, stream sources, credentials, motion polygons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nvr.config import CameraConfig, Config
from nvr.secrets import Secret

Problems = Callable[[dict[str, Any]], list[str]]


def _cameras(*cameras: dict[str, Any]) -> dict[str, Any]:
    return {"cameras": list(cameras)}


def _rtsp(name: str = "front", **changes: Any) -> dict[str, Any]:
    return {"name": name, "main_url": "rtsp://192.0.2.7/live"} | changes


def _square(**changes: Any) -> dict[str, Any]:
    return {"name": "porch", "points": [[0, 0], [1, 0], [1, 1], [0, 1]]} | changes


def test_rtsp_camera_defaults() -> None:
    (camera,) = Config.model_validate(_cameras(_rtsp())).cameras
    assert camera.name == "front"
    assert camera.main_url is not None
    assert camera.main_url.reveal() == "rtsp://192.0.2.7/live"
    assert camera.sub_url is None
    assert camera.onvif is None
    assert camera.transport == "tcp"
    assert camera.record == "continuous"
    assert camera.audio is False
    assert camera.motion.enabled is True
    assert camera.motion.sensitivity == "medium"
    assert camera.motion.zones == []
    assert camera.motion.masks == []
    assert camera.doorbell_topic is None


def test_onvif_camera() -> None:
    onvif = {"host": "192.0.2.8", "username": "admin", "password": "hunter2"}
    (camera,) = Config.model_validate(_cameras({"name": "gate", "onvif": onvif})).cameras
    assert camera.onvif is not None
    assert camera.onvif.port == 80
    assert isinstance(camera.onvif.password, Secret)
    assert camera.onvif.password.reveal() == "hunter2"
    assert camera.stream_url() is None
    assert "hunter2" not in repr(camera)


@pytest.mark.parametrize("name", ["front", "f", "0cam", "back_yard-2", "a" * 32])
def test_good_names(name: str) -> None:
    assert Config.model_validate(_cameras(_rtsp(name))).cameras[0].name == name


@pytest.mark.parametrize("name", ["Front", "-cam", "_cam", "front door", "a" * 33, "", "ca/m"])
def test_bad_names(problems: Problems, name: str) -> None:
    (problem,) = problems(_cameras(_rtsp(name)))
    assert problem.startswith(f"cameras[0].name: {name!r} is not a valid camera name")


def test_names_are_unique(problems: Problems) -> None:
    assert problems(_cameras(_rtsp("a"), _rtsp("b"), _rtsp("a"))) == [
        "cameras[2].name: camera name 'a' is already used by cameras[0]"
    ]


@pytest.mark.parametrize(
    ("camera", "expected"),
    [
        (
            {"name": "x"},
            "cameras[0]: needs main_url (an RTSP URL) or onvif (to ask the camera for it)",
        ),
        (
            _rtsp(onvif={"host": "cam"}),
            "cameras[0].onvif: give either main_url or onvif, not both",
        ),
        (
            {"name": "x", "onvif": {"host": "cam"}, "sub_url": "rtsp://cam/sub"},
            "cameras[0].sub_url: sub_url needs main_url; ONVIF cameras report their streams",
        ),
        (
            _rtsp(password="pw"),
            "cameras[0].password: password needs username",
        ),
        (
            _rtsp(main_url="rtsp://admin:pw@cam/", username="admin"),
            "cameras[0].username: credentials are given both in main_url and in "
            "username/password; keep one",
        ),
        (
            _rtsp(main_url="http://cam/live"),
            "cameras[0].main_url: must be an RTSP URL starting with rtsp:// or rtsps://",
        ),
        (_rtsp(transport="quic"), "cameras[0].transport: 'quic' is not one of tcp, udp"),
        (_rtsp(audio="loud"), "cameras[0].audio: expected true or false, got 'loud'"),
        (_rtsp(doorbell_topic=" "), "cameras[0].doorbell_topic: must not be empty"),
        ({"name": "x", "onvif": {"host": ""}}, "cameras[0].onvif.host: must not be empty"),
        (
            {"name": "x", "onvif": {"host": "cam", "port": 0}},
            "cameras[0].onvif.port: must be at least 1, got 0",
        ),
    ],
)
def test_camera_rules(problems: Problems, camera: dict[str, Any], expected: str) -> None:
    (problem,) = problems(_cameras(camera))
    assert problem.startswith(expected)


def test_stream_url_fills_in_the_credentials() -> None:
    camera = CameraConfig.model_validate(
        _rtsp(sub_url="rtsp://192.0.2.7/sub", username="ad min", password="p@ss:w/rd")
    )
    assert camera.stream_url() == "rtsp://ad%20min:p%40ss%3Aw%2Frd@192.0.2.7/live"
    assert camera.stream_url("sub") == "rtsp://ad%20min:p%40ss%3Aw%2Frd@192.0.2.7/sub"
    assert "p@ss" not in repr(camera)


def test_stream_url_keeps_credentials_already_in_the_url() -> None:
    camera = CameraConfig.model_validate(_rtsp(main_url="rtsp://admin:hunter2@cam/live"))
    assert camera.stream_url() == "rtsp://admin:hunter2@cam/live"
    assert camera.stream_url("sub") is None
    assert str(camera.main_url) == "rtsp://admin:***@cam/live"
    assert camera.model_dump(mode="json")["main_url"] == "rtsp://admin:***@cam/live"


def test_motion_zones_and_masks() -> None:
    motion = {
        "sensitivity": "high",
        "zones": [_square()],
        "masks": [{"points": [[0, 0], [0.5, 0], [0.5, 0.25]]}],
    }
    (camera,) = Config.model_validate(_cameras(_rtsp(motion=motion))).cameras
    (zone,) = camera.motion.zones
    assert zone.name == "porch"
    assert zone.points == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    (mask,) = camera.motion.masks
    assert mask.name is None
    assert mask.points[2] == (0.5, 0.25)


@pytest.mark.parametrize(
    ("motion", "expected"),
    [
        (
            {"zones": [_square(points=[[0, 0], [1, 1]])]},
            "cameras[0].motion.zones[0].points: needs at least 3 items, got 2",
        ),
        (
            {"zones": [_square(points=[[0, 0], [1, 0], [1, 1.5]])]},
            "cameras[0].motion.zones[0].points[2][1]: must be at most 1, got 1.5",
        ),
        (
            {"zones": [_square(points=[[0, 0], [1, 0], [-0.1, 1]])]},
            "cameras[0].motion.zones[0].points[2][0]: must be at least 0, got -0.1",
        ),
        (
            {"zones": [_square(points=[[0, 0], [1, 0], [1, 1, 1]])]},
            "cameras[0].motion.zones[0].points[2]: ",
        ),
        (
            {"zones": [_square(), _square(name="street"), _square()]},
            "cameras[0].motion.zones[2].name: zone name 'porch' is already used by zones[0]",
        ),
        ({"zones": [{"points": [[0, 0], [1, 0], [1, 1]]}]}, "cameras[0].motion.zones[0].name: "),
        ({"masks": [{"name": "m"}]}, "cameras[0].motion.masks[0].points: required key is missing"),
        ({"sensitivity": "max"}, "cameras[0].motion.sensitivity: 'max' is not one of low,"),
    ],
)
def test_motion_rules(problems: Problems, motion: dict[str, Any], expected: str) -> None:
    (problem,) = problems(_cameras(_rtsp(motion=motion)))
    assert problem.startswith(expected)
