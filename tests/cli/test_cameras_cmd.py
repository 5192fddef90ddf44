"""``nvr cameras`` as an installer types it, against GStreamer's RTSP server (real)."""

from __future__ import annotations

import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import typer

from nvr import cli
from nvr.cli import cameras_cmd, config_cmd
from nvr.cli.cameras_cmd import parse_host_port, split_credentials, with_credentials
from nvr.errors import UserError
from tests.cli.conftest import Run
from tests.support.rtsp_server import RtspCamera

CONFIG = """\
# Our house.
storage:
  data_dir: ./data   # next to this file

cameras: []   # added with nvr cameras add

# Quiet logs.
logging:
  level: warning
"""
PASSWORD = "Dig3st: #pass@word"  # YAML- and URL-hostile on purpose


@pytest.fixture(autouse=True)
def _cameras_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run through ``nvr.cli.main`` even before the lead registers ``nvr cameras``."""
    registered = {group.name for group in cli.app.registered_groups}
    if "cameras" not in registered:
        root = typer.Typer(name="nvr", pretty_exceptions_enable=False)
        root.add_typer(cameras_cmd.app, name="cameras")
        root.add_typer(config_cmd.app, name="config")
        monkeypatch.setattr(cli, "app", root)
    monkeypatch.delenv("NVR_CONFIG", raising=False)
    monkeypatch.delenv("NVR_SECRETS_FILE", raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nvr.yaml"
    path.write_text(CONFIG)
    return path


@pytest.mark.rtsp
def test_add_list_remove(nvr: Run, rtsp_camera: RtspCamera, config: Path) -> None:
    url = rtsp_camera.url("/live")
    code, out, err = nvr(
        "cameras",
        "add",
        "--config",
        str(config),
        "--name",
        "porch",
        "--url",
        url,
        "--sub-url",
        url,
        "--record",
        "events",
    )
    assert (code, err) == (0, "")
    assert out == (
        "porch: h264 640x360 @ 15 fps\n"
        "porch (sub-stream): h264 640x360 @ 15 fps\n"
        f"added camera porch to {config}\n"
    )
    text = config.read_text()
    assert "# Our house.\n" in text
    assert "cameras:   # added with nvr cameras add\n  - name: porch\n" in text
    assert "\n# Quiet logs.\nlogging:\n" in text
    assert nvr("config", "check", str(config)) == (0, f"{config}: OK (1 camera)\n", "")
    code, out, _ = nvr("cameras", "list", "--config", str(config))
    assert code == 0
    assert out.splitlines() == [
        "NAME   SOURCE" + " " * (len(url) - 6) + "  RECORD  TRANSPORT",
        f"porch  {url}  events  tcp",
    ]
    code, out, err = nvr("cameras", "remove", "porch", "--config", str(config))
    assert (code, err) == (0, "")
    assert out.startswith(f"removed camera porch from {config}\nits recorded footage stays")
    assert config.read_text() == CONFIG
    assert nvr("cameras", "list", "--config", str(config)) == (0, f"no cameras in {config}\n", "")


@pytest.mark.rtsp
def test_password_file_goes_to_secrets_yaml(
    nvr: Run, rtsp_camera: RtspCamera, config: Path, secret_file: Callable[[str, str], Path]
) -> None:
    pw = secret_file("cam-pw", "digest-pass")
    code, out, err = nvr(
        "cameras",
        "add",
        "-c",
        str(config),
        "--name",
        "door",
        "--url",
        rtsp_camera.url("/digest"),
        "--user",
        "viewer",
        "--password-file",
        str(pw),
    )
    assert (code, err) == (0, "")
    secrets = config.parent / "secrets.yaml"
    assert out == (
        "door: h264 640x360 @ 15 fps\n"
        f"added camera door to {config}\n"
        f"its password is in {secrets} as door_password (mode 0600)\n"
    )
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert "door_password: digest-pass" in secrets.read_text()
    text = config.read_text()
    assert "digest-pass" not in text
    assert "    username: viewer\n    password: !secret door_password\n" in text
    assert nvr("config", "check", str(config))[0] == 0
    code, out, err = nvr("cameras", "list", "-c", str(config))
    assert "digest-pass" not in out + err


@pytest.mark.rtsp
def test_credentials_in_the_url_are_moved_out(
    nvr: Run, rtsp_camera: RtspCamera, config: Path
) -> None:
    url = rtsp_camera.url("/basic", "viewer", "basic-pass")
    code, out, err = nvr("cameras", "add", "-c", str(config), "--name", "yard", "--url", url)
    assert (code, err) == (0, "")
    assert "basic-pass" not in out
    text = config.read_text()
    assert "basic-pass" not in text
    assert f"main_url: {rtsp_camera.url('/basic')}\n    username: viewer\n" in text
    assert "yard_password: basic-pass" in (config.parent / "secrets.yaml").read_text()
    assert nvr("config", "check", str(config))[0] == 0


@pytest.mark.rtsp
def test_a_camera_that_fails_leaves_the_config_untouched(
    nvr: Run, rtsp_camera: RtspCamera, config: Path, secret_file: Callable[[str, str], Path]
) -> None:
    wrong = secret_file("wrong", PASSWORD)
    code, out, err = nvr(
        "cameras",
        "add",
        "-c",
        str(config),
        "--name",
        "door",
        "--url",
        rtsp_camera.url("/digest"),
        "--user",
        "viewer",
        "--password-file",
        str(wrong),
    )
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0].startswith("nvr: error: rtsp://viewer:***@127.0.0.1:")
    assert lines[0].endswith(": the camera rejected the username or password (401 Unauthorized)")
    assert lines[1] == "nvr: hint: check the user name and the password file"
    assert len(lines) == 2
    assert PASSWORD not in err
    code, out, err = nvr(
        "cameras",
        "add",
        "-c",
        str(config),
        "--name",
        "door",
        "--url",
        rtsp_camera.url("/live").replace("/live", "/nope"),
    )
    assert code == 1
    assert "no stream at this path" in err
    assert config.read_text() == CONFIG
    assert {p.name for p in config.parent.iterdir()} == {"nvr.yaml", "wrong"}


def test_bad_input_is_one_line_and_exit_1(
    nvr: Run, config: Path, secret_file: Callable[[str, str], Path]
) -> None:
    def add(*args: str) -> str:
        code, out, err = nvr("cameras", "add", "-c", str(config), *args)
        assert (code, out) == (1, "")
        assert err.startswith("nvr: error: ")
        assert "Traceback" not in err
        return err

    assert "not a valid camera name" in add("--name", "Front Door", "--url", "rtsp://h/x")
    assert "must be an rtsp:// or rtsps:// URL" in add("--name", "a", "--url", "http://cam/x")
    assert "either --url or --onvif" in add("--name", "a")
    assert "--transport must be one of tcp, udp" in add(
        "--name", "a", "--url", "rtsp://h/x", "--transport", "http"
    )
    err = add("--name", "a", "--url", "rtsp://u:se:cr3t@h:99x/x")
    assert "cr3t" not in err
    loose = secret_file("loose", PASSWORD)
    loose.chmod(0o644)
    err = add("--name", "a", "--url", "rtsp://h/x", "--user", "u", "--password-file", str(loose))
    assert "mode 0644" in err
    assert PASSWORD not in err
    assert "refused" in add("--name", "a", "--url", "rtsp://127.0.0.1:9/x")
    assert config.read_text() == CONFIG
    # A config that is already broken is reported first, before the camera is contacted.
    config.write_text(CONFIG.replace("level: warning", "level: loud"))
    assert "logging.level" in add("--name", "a", "--url", "rtsp://127.0.0.1:9/x")


def test_onvif_camera_is_written_with_its_password_in_secrets(
    nvr: Run, config: Path, secret_file: Callable[[str, str], Path]
) -> None:
    pw = secret_file("pw", PASSWORD)
    code, out, err = nvr(
        "cameras",
        "add",
        "-c",
        str(config),
        "--name",
        "gate",
        "--onvif",
        "192.168.1.21:8080",
        "--user",
        "admin",
        "--password-file",
        str(pw),
        "--record",
        "events",
        "--no-check",
    )
    assert (code, err) == (0, "")
    text = config.read_text()
    assert (
        "  - name: gate\n    onvif:\n      host: 192.168.1.21\n      port: 8080\n"
        "      username: admin\n      password: !secret gate_password\n"
    ) in text
    assert PASSWORD not in text + out
    assert nvr("config", "check", str(config))[0] == 0
    code, out, _ = nvr("cameras", "list", "-c", str(config))
    assert "gate  onvif://192.168.1.21:8080  events  tcp" in out
    code, _, err = nvr(
        "cameras",
        "add",
        "-c",
        str(config),
        "--name",
        "gate",
        "--onvif",
        "192.168.1.22",
        "--no-check",
    )
    assert code == 1
    assert "a camera named 'gate' is already in" in err


def test_a_missing_config_is_created_and_others_are_required(
    nvr: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "new" / "nvr.yaml"
    code, _, err = nvr(
        "cameras", "add", "-c", str(path), "--name", "a", "--url", "rtsp://cam.lan/x", "--no-check"
    )
    assert (code, err) == (0, "")
    assert path.read_text().startswith("# Porchlight configuration")
    assert nvr("config", "check", str(path))[0] == 0
    code, _, err = nvr("cameras", "list")
    assert code == 1
    assert err.startswith("nvr: error: no config file found")
    code, _, err = nvr("cameras", "remove", "zz", "-c", str(path))
    assert (code, err.splitlines()[0]) == (1, f"nvr: error: no camera named 'zz' in {path}")


def test_url_helpers() -> None:
    assert split_credentials("rtsp://a%40b:p%3Aw@cam:554/s?x=1", "--url") == (
        "rtsp://cam:554/s?x=1",
        "a@b",
        "p:w",
    )
    assert split_credentials("rtsps://cam/s", "--url") == ("rtsps://cam/s", None, None)
    assert with_credentials("rtsp://cam/s", "a@b", "p:w") == "rtsp://a%40b:p%3Aw@cam/s"
    assert with_credentials("rtsp://cam/s", None, None) == "rtsp://cam/s"
    assert parse_host_port("cam.lan") == ("cam.lan", 80)
    assert parse_host_port("10.0.0.2:8000") == ("10.0.0.2", 8000)
    assert parse_host_port("[fe80::1]:81") == ("fe80::1", 81)
    assert parse_host_port("fe80::1") == ("fe80::1", 80)
    with pytest.raises(UserError, match="port must be a number"):
        parse_host_port("cam:http")


def test_an_onvif_camera_that_does_not_answer_is_not_added(
    nvr: Run, config: Path, secret_file: Callable[[str, str], Path]
) -> None:
    pw = secret_file("pw", PASSWORD)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        code, out, err = nvr(
            "cameras",
            "add",
            "-c",
            str(config),
            "--name",
            "gate",
            "--onvif",
            f"127.0.0.1:{port}",
            "--user",
            "admin",
            "--password-file",
            str(pw),
        )
    assert (code, out) == (1, "")
    assert err.startswith("nvr: error: ")
    assert f"127.0.0.1:{port}" in err
    assert PASSWORD not in err
    assert config.read_text() == CONFIG
