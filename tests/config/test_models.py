"""The config models outside cameras: defaults, bounds and the rules between keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from nvr.config import Config, MqttTlsConfig, StorageConfig
from nvr.secrets import Secret

Problems = Callable[[dict[str, Any]], list[str]]


def test_defaults_have_no_camera_and_run_the_demo() -> None:
    config = Config()
    assert config.cameras == []
    assert config.demo_wanted()
    assert config.server.bind == "0.0.0.0"
    assert config.server.port == 8443
    assert config.server.tls.mode == "self-signed"
    assert config.storage.data_dir == Path("/var/lib/nvr")
    assert config.storage.segment_seconds == 60
    assert config.storage.retention.continuous_days == 14
    assert config.storage.retention.event_days == 30
    assert config.storage.quota_bytes(10**12) is None
    assert config.notifications.mqtt.enabled is False
    assert config.notifications.webhooks == []
    assert config.logging.level == "info"


def test_database_url_defaults_to_sqlite_in_the_data_dir() -> None:
    config = Config.model_validate({"storage": {"data_dir": "/srv/nvr"}})
    assert config.database_url() == "sqlite:////srv/nvr/nvr.sqlite3"


def test_database_url_is_revealed_only_by_database_url() -> None:
    config = Config.model_validate({"database": {"url": "postgresql://nvr:hunter2@db/nvr"}})
    assert config.database_url() == "postgresql://nvr:hunter2@db/nvr"
    assert isinstance(config.database.url, Secret)
    assert "hunter2" not in repr(config) + str(config) + config.model_dump_json()
    assert str(config.database.url) == "postgresql://nvr:***@db/nvr"


def test_database_url_must_be_a_url(problems: Problems) -> None:
    assert problems({"database": {"url": "nvr.sqlite3"}}) == [
        "database.url: must be a database URL of the form scheme://..."
    ]


@pytest.mark.parametrize(
    ("enabled", "cameras", "wanted"),
    [("auto", 0, True), ("auto", 1, False), ("on", 1, True), ("off", 0, False)],
)
def test_demo_wanted(enabled: str, cameras: int, wanted: bool) -> None:
    camera = {"name": "front", "main_url": "rtsp://cam/"}
    config = Config.model_validate({"demo": {"enabled": enabled}, "cameras": [camera] * cameras})
    assert config.demo_wanted() is wanted


def test_demo_scene_names_an_endless_scene() -> None:
    from nvr.demo.scene import make_scene

    assert Config().demo.scene_name() == "demo"
    faces = Config.model_validate({"demo": {"scene": "faces"}}).demo.scene_name()
    assert faces == "demo_faces"
    assert make_scene(faces, width=64, height=36).duration is None  # endless, with faces


def test_models_are_frozen_and_reject_unknown_keys() -> None:
    config = Config()
    with pytest.raises(ValidationError):
        config.server.port = 1
    with pytest.raises(ValidationError):
        Config.model_validate({"server": {"prot": 1}})


def test_empty_section_takes_its_defaults() -> None:
    config = Config.model_validate({"server": None, "cameras": None, "notifications": None})
    assert config == Config()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"server": {"port": 0}}, "server.port: must be at least 1, got 0"),
        ({"server": {"port": 70000}}, "server.port: must be at most 65535, got 70000"),
        ({"server": {"bind": "my box"}}, "server.bind: 'my box' is not an IP address"),
        (
            {"server": {"port": 8443, "http_redirect_port": 8443}},
            "server.http_redirect_port: must differ from port",
        ),
        (
            {"server": {"tls": {"mode": "files", "cert": "/c.pem"}}},
            "server.tls: mode 'files' needs both cert and key; key is missing",
        ),
        (
            {"server": {"tls": {"cert": "/c.pem"}}},
            "server.tls.cert: cert is only used with mode: files",
        ),
        ({"storage": {"segment_seconds": 5}}, "storage.segment_seconds: must be at least 10"),
        ({"storage": {"segment_seconds": 301}}, "storage.segment_seconds: must be at most 300"),
        (
            {"storage": {"fsync_interval_seconds": 0}},
            "storage.fsync_interval_seconds: must be more",
        ),
        ({"storage": {"fsync_interval_seconds": 61}}, "storage.fsync_interval_seconds: must be at"),
        (
            {"storage": {"retention": {"event_days": -1}}},
            "storage.retention.event_days: must be at least 0",
        ),
        ({"storage": {"quota": "lots"}}, "storage.quota: must be a size such as 500GB"),
        ({"logging": {"level": "loud"}}, "logging.level: 'loud' is not one of debug, info,"),
        ({"demo": {"enabled": True}}, "demo.enabled: true is not one of auto, on, off"),
        ({"demo": {"scene": "ball"}}, "demo.scene: 'ball' is not one of visitors, faces"),
    ],
)
def test_invalid_values_are_named_in_plain_words(
    problems: Problems, data: dict[str, object], expected: str
) -> None:
    (problem,) = problems(data)
    assert problem.startswith(expected)


def test_tls_files_mode() -> None:
    config = Config.model_validate(
        {"server": {"tls": {"mode": "files", "cert": "/c.pem", "key": "/k.pem"}}}
    )
    assert config.server.tls.cert == Path("/c.pem")
    assert config.server.tls.key == Path("/k.pem")


@pytest.mark.parametrize(
    ("quota", "volume", "expected"),
    [("90%", 1000, 900), ("500GB", 1, 500 * 10**9), (2048, 1, 2048), (None, 5, None)],
)
def test_quota_bytes(quota: str | int | None, volume: int, expected: int | None) -> None:
    storage = StorageConfig.model_validate({"quota": quota})
    assert storage.quota_bytes(volume) == expected


def test_mqtt_settings(problems: Problems) -> None:
    config = Config.model_validate(
        {"notifications": {"mqtt": {"enabled": True, "username": "nvr", "password": "hunter2"}}}
    )
    mqtt = config.notifications.mqtt
    assert mqtt.password is not None
    assert mqtt.password.reveal() == "hunter2"
    assert "hunter2" not in repr(config)
    assert problems({"notifications": {"mqtt": {"topic_prefix": "a/#"}}}) == [
        "notifications.mqtt.topic_prefix: must not contain the MQTT wildcards '#' or '+'"
    ]
    assert problems({"notifications": {"mqtt": {"discovery_prefix": "/ha"}}}) == [
        "notifications.mqtt.discovery_prefix: "
        "must be a non-empty topic without a leading or trailing '/'"
    ]


def test_mqtt_tls(problems: Problems, tmp_path: Path) -> None:
    def tls(value: object) -> MqttTlsConfig:
        return Config.model_validate(
            {"notifications": {"mqtt": {"tls": value}}}
        ).notifications.mqtt.tls

    assert tls(False) == MqttTlsConfig()
    assert tls(True) == MqttTlsConfig(enabled=True)  # short for {enabled: true}
    ca = tmp_path / "ca.pem"
    assert tls({"enabled": True, "ca_file": str(ca)}).ca_file == ca
    assert problems({"notifications": {"mqtt": {"tls": {"cert_file": "c.pem"}}}}) == [
        "notifications.mqtt.tls.key_file: cert_file and key_file go together"
    ]
    assert problems({"notifications": {"mqtt": {"queue_size": 1}}}) == [
        "notifications.mqtt.queue_size: must be at least 10, got 1"
    ]


def test_webhooks_stay_in_the_house_unless_allowed(problems: Problems) -> None:
    for url in ("http://127.0.0.1:8123/x", "http://192.168.1.20/x", "https://[fd00::5]/x"):
        Config.model_validate({"notifications": {"webhooks": [_hook(url=url)]}})
    assert problems({"notifications": {"webhooks": [_hook(url="http://8.8.8.8/x")]}}) == [
        "notifications.webhooks[0].url: is a public address; webhooks go to the local "
        "network unless allow_public: true"
    ]
    allowed = _hook(url="http://8.8.8.8/x", allow_public=True)
    Config.model_validate({"notifications": {"webhooks": [allowed]}})
    assert problems({"notifications": {"webhooks": [_hook(url="http://ha.lan:99999/")]}}) == [
        "notifications.webhooks[0].url: has a port that is not a number from 1 to 65535"
    ]


def _hook(**changes: object) -> dict[str, object]:
    hook: dict[str, object] = {
        "name": "ha",
        "url": "http://ha.lan/hook",
        "secret": "k3y",
        "events": ["doorbell"],
    }
    return hook | changes


def test_webhooks(problems: Problems) -> None:
    config = Config.model_validate({"notifications": {"webhooks": [_hook()]}})
    (hook,) = config.notifications.webhooks
    assert hook.secret.reveal() == "k3y"
    assert hook.events == ["doorbell"]
    assert problems({"notifications": {"webhooks": [_hook(url="ftp://x/")]}}) == [
        "notifications.webhooks[0].url: must be an http:// or https:// URL"
    ]
    assert problems({"notifications": {"webhooks": [_hook(url="http://u:pw@x/")]}}) == [
        "notifications.webhooks[0].url: must not contain a password; "
        "the receiver can check 'secret'"
    ]
    assert problems({"notifications": {"webhooks": [_hook(events=[])]}}) == [
        "notifications.webhooks[0].events: needs at least 1 item, got 0"
    ]
    assert problems({"notifications": {"webhooks": [_hook(events=["fire"])]}}) == [
        "notifications.webhooks[0].events[0]: "
        "'fire' is not one of motion, doorbell, camera_offline, camera_online"
    ]
    assert problems({"notifications": {"webhooks": [_hook(), _hook()]}}) == [
        "notifications.webhooks[1].name: webhook name 'ha' is already used by webhooks[0]"
    ]
    assert problems({"notifications": {"webhooks": [{"name": "x", "url": "http://x/"}]}}) == [
        "notifications.webhooks[0].secret: required key is missing",
        "notifications.webhooks[0].events: required key is missing",
    ]
