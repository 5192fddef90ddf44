"""``nvr doctor`` as the installer runs it: on this machine, against a real RTSP camera
(GStreamer's, with a wrong password for one of two cameras), and with a broken config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nvr.service.doctor import diagnose, listeners
from tests.support.rtsp_server import Mount, RtspCameraFactory

CAM_PASSWORD = "Porch-Secret-9f3k"
WRONG_PASSWORD = "Not-The-Password-77x"
SEVERITIES = {"ok", "info", "warning", "error"}


def _doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "nvr", "doctor", "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report, done.stdout + done.stderr


def test_doctor_on_this_machine_gives_findings_each_with_a_remedy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    code, report, _ = _doctor("--data-dir", str(data))
    findings = report["findings"]
    checks = {f["check"] for f in findings}
    assert {
        "config",
        "disk.free",
        "disk.speed",
        "disk.device",
        "clock",
        "pi.temperature",
        "pi.throttling",
        "cameras",
        "ports",
    } <= checks
    for f in findings:
        assert f["severity"] in SEVERITIES, f
        assert f["summary"].strip(), f
        assert f["remedy"].strip(), f
    # The write test measured something and cleaned up after itself.
    [speed] = [f for f in findings if f["check"] == "disk.speed"]
    assert "MB/s" in speed["summary"]
    assert list(data.iterdir()) == []
    # Exit code follows the worst finding.
    assert report["worst"] in SEVERITIES
    assert code == (2 if report["worst"] == "error" else 0)


def test_doctor_text_output_says_what_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nvr", "doctor", "--data-dir", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "[info] disk.speed: not measured" in done.stdout
    assert "what to do: start the service once" in done.stdout
    assert not (tmp_path / "nope").exists()  # doctor creates nothing


def test_a_config_error_is_a_finding_naming_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "cameras:\n  - name: front\n    main_url: rtsp://10.0.0.9/x\n    record: continous\n"
    )
    code, report, _ = _doctor("--config", str(config), "--data-dir", str(tmp_path))
    [issue] = [f for f in report["findings"] if f["check"] == "config"]
    assert issue["severity"] == "error"
    assert issue["summary"].startswith(f"{config}:4: cameras[0].record:")
    assert "line 4" in issue["remedy"]
    assert code == 2
    # The broken file's cameras are not contacted: the checks went on with the defaults.
    assert not any(f["check"].startswith("camera.") for f in report["findings"])


@pytest.mark.rtsp
def test_camera_reachability_and_a_wrong_password(
    tmp_path: Path, rtsp_camera_factory: RtspCameraFactory
) -> None:
    camera = rtsp_camera_factory(
        [Mount("/door", auth="digest", user="installer", password=CAM_PASSWORD)]
    )
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "cameras:\n"
        "  - name: front\n"
        f"    main_url: rtsp://127.0.0.1:{camera.port}/door\n"
        "    username: installer\n"
        "    password: ${FRONT_PW}\n"
        "  - name: back\n"
        f"    main_url: rtsp://installer:{WRONG_PASSWORD}@127.0.0.1:{camera.port}/door\n"
    )
    code, report, everything = _doctor(
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
        env={"FRONT_PW": CAM_PASSWORD},
    )
    by_check = {f["check"]: f for f in report["findings"]}
    assert by_check["camera.front"]["severity"] == "ok"
    assert "h264" in by_check["camera.front"]["summary"]
    back = by_check["camera.back"]
    assert back["severity"] == "error"
    assert "authentication failed" in back["summary"]
    assert "password" in back["remedy"]
    assert code == 2
    assert CAM_PASSWORD not in everything
    assert WRONG_PASSWORD not in everything


def test_an_unreachable_camera_is_an_error_within_the_timeout(tmp_path: Path) -> None:
    # A port on loopback nothing listens on: refused at once.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "nvr.yaml"
    config.write_text(f"cameras:\n  - name: gone\n    main_url: rtsp://127.0.0.1:{port}/x\n")
    findings = diagnose(config, tmp_path, camera_timeout=2, write_test_bytes=1 << 20)
    [gone] = [f for f in findings if f.check == "camera.gone"]
    assert gone.severity == "error"
    assert "not reachable" in gone.summary


def _fake_sys(root: Path, data: Path, disk: str, part: str, rotational: str) -> None:
    st = data.stat()
    device = root / "sys/devices/platform/fake/block" / disk
    (device / part).mkdir(parents=True)
    (device / part / "partition").write_text("2\n")
    (device / "queue").mkdir()
    (device / "queue/rotational").write_text(rotational + "\n")
    (root / "sys/block").mkdir(parents=True)
    (root / "sys/block" / disk).symlink_to(device)
    (root / "sys/dev/block").mkdir(parents=True)
    (root / "sys/dev/block" / f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}").symlink_to(
        device / part
    )


def test_data_on_an_sd_card_is_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _fake_sys(tmp_path / "root", data, "mmcblk0", "mmcblk0p2", "0")
    (tmp_path / "root/proc/device-tree").mkdir(parents=True)
    (tmp_path / "root/proc/device-tree/model").write_text("Raspberry Pi 4 Model B Rev 1.5\x00")
    findings = diagnose(
        None, data, cameras=False, sys_root=tmp_path / "root", write_test_bytes=1 << 20
    )
    [device] = [f for f in findings if f.check == "disk.device"]
    assert (device.severity, "SD card" in device.summary) == ("warning", True)
    assert "attach a USB SSD" in device.remedy
    # With a USB disk attached (and a loop device, which does not count), doctor names it.
    for name in ("sda", "loop0"):
        (tmp_path / "root/sys/block" / name).mkdir()
    findings = diagnose(
        None, data, cameras=False, sys_root=tmp_path / "root", write_test_bytes=1 << 20
    )
    [device] = [f for f in findings if f.check == "disk.device"]
    assert device.remedy.endswith("move storage.data_dir to a folder on sda (attached)")
    [throttling] = [f for f in findings if f.check == "pi.throttling"]
    assert "not a Raspberry Pi" not in throttling.summary  # it is one, by its model file


def test_data_on_an_ssd_is_fine(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _fake_sys(tmp_path / "root", data, "sda", "sda1", "0")
    findings = diagnose(
        None, data, cameras=False, sys_root=tmp_path / "root", write_test_bytes=1 << 20
    )
    [device] = [f for f in findings if f.check == "disk.device"]
    assert (device.severity, device.summary.endswith("an SSD or flash disk (sda)")) == ("ok", True)


def _row(slot: int, local: str, remote: str, state: str, inode: int) -> str:
    return (
        f"{slot:4}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000 0 0 {inode} 1\n"
    )


def test_listeners_reads_proc_net_tcp(tmp_path: Path) -> None:
    net = tmp_path / "proc/net"
    net.mkdir(parents=True)
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when ... inode\n"
    v4_any, v6_any = "00000000:0000", "00000000000000000000000000000000:0000"
    net.joinpath("tcp").write_text(
        header
        + _row(0, "00000000:20FB", v4_any, "0A", 111)
        + _row(1, "0100007F:238C", v4_any, "0A", 222)
        + _row(2, "0100007F:238C", "0100007F:9C40", "01", 333)  # established: not listening
    )
    net.joinpath("tcp6").write_text(
        header + _row(0, "00000000000000000000000001000000:0016", v6_any, "0A", 444)
    )
    found = {(x.address, x.port, x.inode) for x in listeners(tmp_path)}
    assert found == {("0.0.0.0", 8443, 111), ("127.0.0.1", 9100, 222), ("::1", 22, 444)}


def test_pi_throttling_is_read_from_vcgencmd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_text("Raspberry Pi 5 Model B Rev 1.0\x00")
    zone = root / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    zone.joinpath("temp").write_text("82500\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vcgencmd"  # what the firmware tool prints: under-voltage since boot
    fake.write_text('#!/bin/sh\n[ "$1" = get_throttled ] && echo throttled=0x50000\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    findings = diagnose(None, tmp_path / "none", cameras=False, sys_root=root)
    by_check = {f.check: f for f in findings}
    temp, throttling = by_check["pi.temperature"], by_check["pi.throttling"]
    assert (temp.severity, temp.summary) == ("warning", "CPU temperature 82.5 °C")
    assert throttling.severity == "warning"
    assert "under-voltage has occurred" in throttling.summary
    assert "throttling has occurred" in throttling.summary
    assert "power supply" in throttling.remedy
