"""cameras[].doorbell_webhook: off unless configured, a long secret, masked everywhere."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nvr.config import Config, ConfigError, load_config

WriteFile = Callable[..., Path]
Problems = Callable[[dict[str, Any]], list[str]]
LONG = "Doorbell-Secret-0123456789-abcdef"  # 33 characters


def _camera(**changes: Any) -> dict[str, Any]:
    return {"cameras": [{"name": "front", "main_url": "rtsp://192.0.2.7/live"} | changes]}


def test_off_unless_configured() -> None:
    (camera,) = Config.model_validate(_camera()).cameras
    assert camera.doorbell_webhook is None


def test_secret_from_the_environment_and_the_secrets_file(write: WriteFile) -> None:
    write("secrets.yaml", f"bell: '{LONG}'\n", 0o600)
    path = write(
        "nvr.yaml",
        "cameras:\n"
        "  - name: front\n"
        "    main_url: rtsp://192.0.2.7/live\n"
        "    doorbell_webhook:\n"
        "      secret: !secret bell\n"
        "  - name: back\n"
        "    main_url: rtsp://192.0.2.8/live\n"
        "    doorbell_webhook: {secret: '${BELL}'}\n",
    )
    config = load_config(path, env={"BELL": LONG[::-1]})
    front, back = config.cameras
    assert front.doorbell_webhook is not None
    assert front.doorbell_webhook.secret.reveal() == LONG
    assert back.doorbell_webhook is not None
    assert back.doorbell_webhook.secret.reveal() == LONG[::-1]
    shown = repr(config) + str(config) + json.dumps(config.model_dump(mode="json"))
    assert LONG not in shown
    assert LONG[::-1] not in shown
    assert config.model_dump(mode="json")["cameras"][0]["doorbell_webhook"] == {"secret": "***"}


@pytest.mark.parametrize(
    ("webhook", "expected"),
    [
        ({"secret": "short-Secret-Value"}, "cameras[0].doorbell_webhook.secret: must be at least"),
        ({}, "cameras[0].doorbell_webhook.secret: "),
        ({"secret": LONG, "url": "x"}, "cameras[0].doorbell_webhook.url: "),
    ],
)
def test_rules(problems: Problems, webhook: dict[str, Any], expected: str) -> None:
    (problem,) = problems(_camera(doorbell_webhook=webhook))
    assert problem.startswith(expected)
    assert "short-Secret-Value" not in problem


def test_short_secret_is_not_echoed_from_a_file(write: WriteFile) -> None:
    path = write(
        "nvr.yaml",
        "cameras:\n"
        "  - name: front\n"
        "    main_url: rtsp://192.0.2.7/live\n"
        "    doorbell_webhook: {secret: Too-Short-Bell-Secret}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = str(info.value) + repr(info.value.issues)
    assert "doorbell_webhook.secret" in text
    assert "Too-Short-Bell-Secret" not in text
