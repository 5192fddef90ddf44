"""``nvr config check`` and ``nvr config schema``, as a user runs them (transcript style)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nvr.cli import config_cmd, main
from nvr.config.schema import schema_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "nvr.example.yaml"
PLACEHOLDER = (
    "password: change-me      # placeholder: use ${FRONT_DOOR_PASSWORD} or !secret front_door"
)

WriteFile = Callable[..., Path]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def nvr(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``nvr ARGS...``; return the exit code, stdout and stderr."""

    def _run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def test_example_passes_on_a_fresh_clone(nvr: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert nvr("config", "check", "config/nvr.example.yaml") == (
        0,
        "config/nvr.example.yaml: OK (2 cameras)\n",
        "",
    )


@pytest.mark.parametrize("form", ["${FRONT_DOOR_PASSWORD}", "!secret front_door"])
def test_example_with_a_real_password_source(
    nvr: Run, write: WriteFile, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert PLACEHOLDER in text
    config = write("nvr.yaml", text.replace(PLACEHOLDER, f"password: {form}"))
    write("secrets.yaml", "front_door: 'from secrets'\n", 0o600)
    monkeypatch.setenv("FRONT_DOOR_PASSWORD", "from env")
    assert nvr("config", "check", str(config)) == (0, f"{config}: OK (2 cameras)\n", "")


def test_unknown_key_wrong_type_and_bad_enum(nvr: Run, write: WriteFile) -> None:
    config = write(
        "nvr.yaml",
        "server:\n"
        "  port: abc\n"
        "cameras:\n"
        "  - name: front\n"
        "    main_url: rtsp://192.0.2.7/live\n"
        "    recrod: events\n"
        "  - name: back\n"
        "    main_url: rtsp://192.0.2.8/live\n"
        "    record: continous\n",
    )
    assert nvr("config", "check", str(config)) == (
        1,
        "",
        f"nvr: error: {config}:2: server.port: expected an integer, got 'abc'\n"
        f"nvr: error: {config}:6: cameras[0].recrod: unknown key (did you mean 'record'?)\n"
        f"nvr: error: {config}:9: cameras[1].record: "
        "'continous' is not one of continuous, events, off\n",
    )


def test_yaml_syntax_error(nvr: Run, write: WriteFile) -> None:
    config = write("nvr.yaml", "server:\n  port: 8443\n bind: x\n")
    code, out, err = nvr("config", "check", str(config))
    assert (code, out) == (1, "")
    assert err.startswith(f"nvr: error: {config}:3: ")


def test_file_from_nvr_config(nvr: Run, write: WriteFile, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write("nvr.yaml", "cameras:\n  - name: a\n    main_url: rtsp://192.0.2.7/\n")
    monkeypatch.setenv("NVR_CONFIG", str(config))
    assert nvr("config", "check") == (0, f"{config}: OK (1 camera)\n", "")


def test_no_file_found(nvr: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_cmd, "DEFAULT_SEARCH", (tmp_path / "nvr.yaml",))
    assert nvr("config", "check") == (
        1,
        "",
        f"nvr: error: no config file found (looked at $NVR_CONFIG, {tmp_path}/nvr.yaml)\n"
        "nvr: hint: copy config/nvr.example.yaml to /etc/nvr/nvr.yaml, or name the file\n",
    )


def test_missing_file(nvr: Run, tmp_path: Path) -> None:
    assert nvr("config", "check", str(tmp_path / "nope.yaml")) == (
        1,
        "",
        f"nvr: error: config file {tmp_path}/nope.yaml does not exist\n",
    )


def test_world_readable_secrets_file_is_refused(nvr: Run, write: WriteFile) -> None:
    secrets = write("secrets.yaml", "mqtt: hunter2\n", 0o644)
    config = write("nvr.yaml", "notifications:\n  mqtt:\n    password: !secret mqtt\n")
    code, out, err = nvr("config", "check", str(config))
    assert (code, out) == (1, "")
    assert err == (
        f"nvr: error: {secrets}: the secrets file has mode 0644, so other users may read or "
        f"change it; make it private with: chmod 600 {secrets}\n"
    )
    secrets.chmod(0o600)
    assert nvr("config", "check", str(config)) == (0, f"{config}: OK (0 cameras)\n", "")


def test_passwords_stay_out_of_the_output(
    nvr: Run, write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("secrets.yaml", "gate: Secret-Gate-1\n", 0o600)
    monkeypatch.setenv("FRONT_PW", "Secret-Front-2")
    config = write(
        "nvr.yaml",
        "cameras:\n"
        "  - name: front\n"
        "    main_url: rtsp://admin:${FRONT_PW}@192.0.2.7/live\n"
        "    username: admin\n"  # an error: credentials twice
        "  - name: gate\n"
        "    onvif: {host: cam, password: !secret gate, port: Secret-Port-3}\n"
        "  - name: back\n"
        "    main_url: ftp://admin:Secret-Url-4@192.0.2.8/\n",
    )
    code, out, err = nvr("config", "check", str(config))
    assert code == 1
    assert err.count("\n") == 3
    for password in ("Secret-Gate-1", "Secret-Front-2", "Secret-Url-4"):
        assert password not in out + err


def test_schema_to_stdout(nvr: Run) -> None:
    assert nvr("config", "schema") == (0, schema_text(), "")


def test_schema_to_a_file(nvr: Run, tmp_path: Path) -> None:
    output = tmp_path / "schema.json"
    assert nvr("config", "schema", "--output", str(output)) == (0, "", "")
    assert output.read_text(encoding="utf-8") == schema_text()


def test_schema_to_an_unwritable_place(nvr: Run, tmp_path: Path) -> None:
    code, _, err = nvr("config", "schema", "--output", str(tmp_path / "no" / "such" / "x.json"))
    assert code == 1
    assert err.startswith(f"nvr: error: cannot write {tmp_path}/no/such/x.json: ")


def test_help(nvr: Run) -> None:
    code, out, _ = nvr("config", "--help")
    assert code == 0
    assert "check" in out
    assert "schema" in out
