"""Finding, reading and validating a config file: every problem at once, on its line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from nvr.config import (
    DEFAULT_SEARCH,
    Config,
    ConfigError,
    load_config,
    locate_config,
    parse_config_text,
)
from nvr.errors import UserError

WriteFile = Callable[..., Path]

BAD = """\
server:
  port: abc
storage:
  retention:
    event_days: 30
cameras:
  - name: front
    main_url: rtsp://192.0.2.7/live
    recrod: events
  - name: back
    main_url: rtsp://192.0.2.8/live
    record: continous
"""


def test_default_search_list() -> None:
    assert (Path("/etc/nvr/nvr.yaml"), Path("config/nvr.yaml")) == DEFAULT_SEARCH


def test_lookup_order(write: WriteFile, tmp_path: Path) -> None:
    explicit = write("explicit.yaml", "")
    from_env = write("env.yaml", "")
    first = tmp_path / "etc.yaml"
    second = write("local.yaml", "")
    search = (first, second)
    env = {"NVR_CONFIG": str(from_env)}
    assert locate_config(explicit, env=env, search=search) == explicit
    assert locate_config(None, env=env, search=search) == from_env
    assert locate_config(None, env={}, search=search) == second
    write("etc.yaml", "")
    assert locate_config(None, env={}, search=search) == first
    assert locate_config(None, env={"NVR_CONFIG": ""}, search=search) == first
    assert locate_config(None, env={}, search=()) is None


def test_relative_search_entry_is_relative_to_the_working_directory(
    write: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("config/nvr.yaml", "")
    monkeypatch.chdir(tmp_path)
    assert locate_config(None, env={}, search=(Path("config/nvr.yaml"),)) == Path("config/nvr.yaml")


def test_explicit_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=f"config file {tmp_path}/nope.yaml does not exist"):
        locate_config(tmp_path / "nope.yaml", env={})
    with pytest.raises(UserError, match="is a directory"):
        locate_config(tmp_path, env={})


def test_nvr_config_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"\$NVR_CONFIG names .*nope.yaml, which is not a file"):
        locate_config(None, env={"NVR_CONFIG": str(tmp_path / "nope.yaml")}, search=())


def test_nothing_found_means_defaults_without_cameras() -> None:
    assert load_config(None, env={}, search=()) == Config()


def test_load_config_uses_the_environment_given(write: WriteFile) -> None:
    path = write("nvr.yaml", "server:\n  port: ${PORT}\n")
    assert load_config(None, env={"NVR_CONFIG": str(path), "PORT": "9000"}).server.port == 9000


def test_empty_file_gives_defaults(write: WriteFile) -> None:
    assert load_config(write("nvr.yaml", ""), env={}) == Config()
    assert load_config(write("nvr.yaml", "# nothing yet\n"), env={}) == Config()


def test_every_problem_is_reported_with_its_line(write: WriteFile) -> None:
    path = write("nvr.yaml", BAD)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value).splitlines() == [
        f"{path}:2: server.port: expected an integer, got 'abc'",
        f"{path}:9: cameras[0].recrod: unknown key (did you mean 'record'?)",
        f"{path}:12: cameras[1].record: 'continous' is not one of continuous, events, off",
    ]
    assert [(issue.line, issue.path) for issue in info.value.issues] == [
        (2, "server.port"),
        (9, "cameras[0].recrod"),
        (12, "cameras[1].record"),
    ]


def test_file_is_named_as_given(
    write: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("nvr.yaml", "server:\n  port: abc\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^nvr.yaml:2: server.port: "):
        load_config(Path("nvr.yaml"), env={})


def test_error_chain_carries_no_pydantic_text(write: WriteFile) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write("nvr.yaml", "database:\n  url: 5\n"), env={})
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    path = tmp_path / "nvr.yaml"
    path.write_bytes(b"server:\n  bind: \xff\n")
    with pytest.raises(ConfigError, match=r"nvr.yaml: is not UTF-8 text \(byte 16\)"):
        load_config(path, env={})


def test_relative_paths_are_relative_to_the_config_file(write: WriteFile, tmp_path: Path) -> None:
    path = write("etc/nvr.yaml", "storage:\n  data_dir: data\n")
    assert load_config(path, env={}).storage.data_dir == tmp_path / "etc" / "data"


def test_env_var_and_secret_tag(write: WriteFile, tmp_path: Path) -> None:
    write("secrets.yaml", "front: 'hunter2'\n", 0o600)
    path = write(
        "nvr.yaml",
        "cameras:\n"
        "  - name: front\n"
        "    main_url: rtsp://192.0.2.7/live\n"
        "    username: admin\n"
        "    password: !secret front\n"
        "  - name: back\n"
        "    main_url: rtsp://admin:${BACK_PASSWORD}@192.0.2.8/live\n",
    )
    front, back = load_config(path, env={"BACK_PASSWORD": "s3cret"}).cameras
    assert front.password is not None
    assert front.password.reveal() == "hunter2"
    assert back.stream_url() == "rtsp://admin:s3cret@192.0.2.8/live"


def test_secrets_file_location(write: WriteFile, tmp_path: Path) -> None:
    text = "database:\n  url: !secret db\n"
    write("secrets.yaml", "db: sqlite:///next-to-config.db\n", 0o600)
    other = write("elsewhere/s.yaml", "db: sqlite:///from-env.db\n", 0o600)
    chosen = write("chosen.yaml", "db: sqlite:///chosen.db\n", 0o600)
    filename = str(tmp_path / "nvr.yaml")
    assert parse_config_text(text, filename, env={}).database_url() == "sqlite:///next-to-config.db"
    env = {"NVR_SECRETS_FILE": str(other)}
    assert parse_config_text(text, filename, env=env).database_url() == "sqlite:///from-env.db"
    config = parse_config_text(text, filename, env=env, secrets_file=chosen)
    assert config.database_url() == "sqlite:///chosen.db"


def test_world_readable_secrets_file_is_refused(write: WriteFile, tmp_path: Path) -> None:
    secrets = write("secrets.yaml", "front: hunter2\n", 0o644)
    path = write("nvr.yaml", "notifications:\n  mqtt:\n    password: !secret front\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == (
        f"{secrets}: the secrets file has mode 0644, so other users may read or change it; "
        f"make it private with: chmod 600 {secrets}"
    )


def test_missing_variable_is_named_with_its_line(write: WriteFile) -> None:
    path = write(
        "nvr.yaml", "server:\n  port: 8443\ndatabase:\n  url: postgresql://u:${PGPW}@h/db\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == f"{path}:4: database.url: environment variable PGPW is not set"


def test_unknown_secret_is_named_with_its_line(write: WriteFile) -> None:
    write("secrets.yaml", "a: b\n", 0o600)
    path = write("nvr.yaml", "server:\n  port: 8443\n  bind: !secret nope\n")
    with pytest.raises(ConfigError, match=r"nvr.yaml:3: server.bind: !secret nope: no such entry"):
        load_config(path, env={})


def test_missing_secrets_file_while_secret_used(write: WriteFile, tmp_path: Path) -> None:
    path = write("nvr.yaml", "database:\n  url: !secret db\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value) == (
        f"{path}:2: database.url: !secret db: the secrets file {tmp_path}/secrets.yaml "
        "does not exist"
    )


def test_passwords_never_appear_in_any_output(write: WriteFile) -> None:
    write("secrets.yaml", "cam: Pw-From-Secrets-1\nnum: '12345678'\n", 0o600)
    env = {"CAM_PW": "Pw-From-Env-2", "DB_PW": "Pw-From-Env-3"}
    passwords = [*env.values(), "Pw-From-Secrets-1", "Pw-In-Url-4", "Pw-Plain-5", "12345678"]
    good = write(
        "nvr.yaml",
        "database:\n"
        "  url: postgresql://nvr:${DB_PW}@db/nvr\n"
        "cameras:\n"
        "  - name: a\n"
        "    main_url: rtsp://admin:Pw-In-Url-4@192.0.2.7/live\n"
        "  - name: b\n"
        "    main_url: rtsp://192.0.2.8/live\n"
        "    username: admin\n"
        "    password: !secret cam\n"
        "  - name: c\n"
        "    onvif: {host: cam, username: u, password: '${CAM_PW}'}\n"
        "notifications:\n"
        "  mqtt: {password: Pw-Plain-5}\n",
    )
    config = load_config(good, env=env)
    shown = repr(config) + str(config) + json.dumps(config.model_dump(mode="json"))
    shown += config.model_dump_json() + repr(config.model_dump())
    # The same values where they do not fit, so that they reach error messages.
    bad = write(
        "bad.yaml",
        "database:\n"
        "  url: 'not a url ${DB_PW}'\n"
        "server:\n"
        "  port: !secret num\n"
        "  bind: !secret cam\n"
        "cameras:\n"
        "  - name: a\n"
        "    main_url: http://admin:Pw-In-Url-4@192.0.2.7/live\n"
        "    password: Pw-Plain-5\n"
        "  - name: b\n"
        "    main_url: rtsp://admin:Pw-In-Url-4:x@192.0.2.7/live\n"
        "    onvif: {host: cam, password: [Pw-Plain-5]}\n"
        "logging:\n"
        "  level: ${CAM_PW}\n"
        "  format: rtsp://u:Pw-In-Url-4@h/\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad, env=env)
    shown += str(info.value) + repr(info.value) + repr(info.value.issues)
    assert len(info.value.issues) == 7
    for password in passwords:
        assert password not in shown, password


def test_values_from_secrets_or_the_environment_are_not_quoted(write: WriteFile) -> None:
    write("secrets.yaml", "bind: Not-An-Address\n", 0o600)
    path = write("nvr.yaml", "server:\n  bind: !secret bind\n  port: ${PORT}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={"PORT": "Not-A-Port"})
    assert str(info.value).splitlines() == [
        f"{path}:2: server.bind: (secret) is not an IP address (such as 0.0.0.0, 127.0.0.1 or ::)",
        f"{path}:3: server.port: expected an integer",
    ]


def test_security_section_bad_values_are_named_with_file_line_and_field(
    write: WriteFile,
) -> None:
    path = write(
        "nvr.yaml",
        "security:\n"
        "  footage_idle_lock_seconds: 5\n"
        "  session_idle_seconds: 0.5\n"
        "  session_max_age_seconds: 100\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(info.value).splitlines() == [
        f"{path}:2: security.footage_idle_lock_seconds: must be at least 10, got 5",
        f"{path}:3: security.session_idle_seconds: expected an integer, got 0.5",
        f"{path}:4: security.session_max_age_seconds: must be at least 300, got 100",
    ]


def test_security_idle_times_fit_inside_the_session_age(write: WriteFile) -> None:
    path = write(
        "nvr.yaml",
        "security:\n  session_idle_seconds: 7200\n  session_max_age_seconds: 3600\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert [(issue.line, issue.path) for issue in info.value.issues] == [
        (2, "security.session_idle_seconds")
    ]
    assert "must not exceed session_max_age_seconds" in str(info.value)
    short = load_config(write("ok.yaml", "security:\n  footage_idle_lock_seconds: 10\n"), env={})
    assert short.security.footage_idle_lock().total_seconds() == 10
    assert Config().security.footage_idle_lock().total_seconds() == 600
