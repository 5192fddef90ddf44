"""``/metrics`` from a real running service: the demo doorbell records, Prometheus's own
text parser reads what the loopback listener serves, and nothing listens when metrics are
off (the default)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from nvr.config import ConfigError, parse_config_text
from nvr.service.doctor import listeners
from tests.service.test_serve import CAM_PASSWORD, WRONG_PASSWORD, Running, start
from tests.support.rtsp_server import Mount, RtspCameraFactory

PASSPHRASE = "sunny-Meadow-42-quietly"


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(url, timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _cam(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, tuple(sorted({"camera": "demo-doorbell", **labels}.items())))


def _demo(tmp_path: Path, config: str | None) -> Running:
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    pw.chmod(0o600)
    args = ["demo", "--passphrase-file", str(pw), "--work-factor", "15", "--owner", "Alex"]
    if config is not None:
        cfg = tmp_path / "nvr.yaml"
        cfg.write_text(config)
        args += ["--config", str(cfg)]
    return start(args, tmp_path, owner=("alex", PASSPHRASE))


def _rest_of_banner(run: Running) -> list[str]:
    assert run.proc.stdout is not None
    lines = []
    for line in run.proc.stdout:
        lines.append(line.strip())
        if line.startswith("Press Ctrl+C"):
            break
    return lines


def _wait(
    url: str, ok: object, timeout: float = 60.0
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert callable(ok)
    deadline = time.monotonic() + timeout
    while True:
        samples = _samples(url)
        if ok(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never got there: {samples}")
        time.sleep(0.5)


def test_metrics_from_the_running_demo(tmp_path: Path, cleanup: list[Running]) -> None:
    run = _demo(
        tmp_path,
        "metrics:\n  enabled: true\n  listen: 127.0.0.1:0\nstorage:\n  segment_seconds: 10\n",
    )
    cleanup.append(run)
    [metrics_line] = [line for line in _rest_of_banner(run) if line.startswith("Metrics:")]
    url = metrics_line.split()[1]
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/metrics")

    first = _wait(url, lambda s: s.get(_cam("porchlight_segment_write_seconds_count"), 0) > 0)
    later = _wait(
        url,
        lambda s: (
            s.get(_cam("porchlight_camera_segments_total"), 0) >= 1
            and s[_cam("porchlight_segment_written_bytes_total")]
            > first[_cam("porchlight_segment_written_bytes_total")]
        ),
    )
    assert later[_cam("porchlight_camera_fps")] > 0
    assert later[_cam("porchlight_camera_bitrate_bits_per_second")] > 0
    assert later[_cam("porchlight_camera_up")] == 1
    assert later[_cam("porchlight_camera_packets_total")] > 0
    assert (
        later[_cam("porchlight_segment_write_seconds_count")]
        > first[_cam("porchlight_segment_write_seconds_count")]
    )
    assert (
        later[_cam("porchlight_segment_write_seconds_bucket", le="+Inf")]
        == (later[_cam("porchlight_segment_write_seconds_count")])
    )
    for name in ("porchlight_camera_reconnects_total", "porchlight_camera_gaps_total"):
        assert _cam(name) in later
    assert _cam("porchlight_camera_queue_drops_total", consumer="recorder") in later
    assert _cam("porchlight_camera_motion_events_total") in later
    assert later[("porchlight_disk_free_bytes", ())] > 0
    assert later[("porchlight_disk_days_left", ())] > 0
    assert later[("porchlight_keys_ready", ())] == 1
    assert later[("process_resident_memory_bytes", ())] > 0
    assert ("process_cpu_seconds_total", ()) in later
    # Only /metrics, only GET.
    assert httpx.get(url.replace("/metrics", "/"), timeout=10).status_code == 404
    assert httpx.post(url, timeout=10).status_code == 405
    # The same counters the dashboard's health shows.
    cam = next(c for c in run.health()["cameras"] if c["name"] == "demo-doorbell")
    assert cam["segments"] >= later[_cam("porchlight_camera_segments_total")]
    code, log = run.stop()
    assert code == 0, log
    assert "serving metrics" in log


def _sockets_of(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def test_metrics_are_off_by_default(tmp_path: Path, cleanup: list[Running]) -> None:
    run = _demo(tmp_path, None)
    cleanup.append(run)
    banner = _rest_of_banner(run)
    assert not any("Metrics" in line for line in banner)
    run.wait_for(lambda h: any(c["packets"] > 0 for c in h["cameras"]))
    ours = _sockets_of(run.proc.pid)
    listening = {(lst.address, lst.port) for lst in listeners() if lst.inode in ours}
    dashboard = int(run.url.rstrip("/").rsplit(":", 1)[1])
    assert ("127.0.0.1", dashboard) in listening
    # Besides the dashboard, only the demo doorbell's RTSP server listens (on loopback),
    # and nothing of this process serves metrics, on the default port or any other.
    others = listening - {("127.0.0.1", dashboard)}
    assert len(others) <= 1
    assert 9108 not in {port for _, port in listening}
    for address, port in others:
        assert address == "127.0.0.1"
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            answer = ""
        assert "porchlight_" not in answer
    code, log = run.stop()
    assert code == 0, log
    assert "serving metrics" not in log


@pytest.mark.parametrize(
    ("listen", "reason"),
    [
        ("0.0.0.0:9108", "not a loopback address"),
        ("192.168.1.5:9108", "not a loopback address"),
        ("localhost:9108", "is not HOST:PORT"),
        ("127.0.0.1", "is not HOST:PORT"),
        ("127.0.0.1:99999", "port 99999"),
    ],
)
def test_metrics_listen_must_be_loopback(listen: str, reason: str) -> None:
    text = f"metrics:\n  enabled: true\n  listen: {listen}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, "nvr.yaml")
    [issue] = caught.value.issues
    assert (issue.file, issue.line, issue.path) == ("nvr.yaml", 3, "metrics.listen")
    assert reason in issue.message


def test_metrics_listen_accepts_loopback() -> None:
    cfg = parse_config_text("metrics:\n  enabled: true\n  listen: '[::1]:9200'\n", "nvr.yaml")
    assert cfg.metrics.address() == ("::1", 9200)
    assert parse_config_text("", "nvr.yaml").metrics.enabled is False


@pytest.mark.rtsp
def test_metrics_of_real_cameras_name_them_and_nothing_else(
    tmp_path: Path, rtsp_camera_factory: RtspCameraFactory, cleanup: list[Running]
) -> None:
    camera = rtsp_camera_factory(
        [Mount("/door", auth="digest", user="installer", password=CAM_PASSWORD)]
    )
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "metrics:\n  enabled: true\n  listen: 127.0.0.1:0\n"
        "cameras:\n"
        "  - name: front\n"
        f"    main_url: rtsp://127.0.0.1:{camera.port}/door\n"
        "    username: installer\n"
        "    password: ${FRONT_PW}\n"
        "  - name: back\n"
        f"    main_url: rtsp://installer:{WRONG_PASSWORD}@127.0.0.1:{camera.port}/door\n"
    )
    run = start(
        ["serve", "--config", str(config), "--bind", "127.0.0.1"],
        tmp_path,
        env={"FRONT_PW": CAM_PASSWORD},
    )
    cleanup.append(run)
    [line] = [x for x in _rest_of_banner(run) if x.startswith("Metrics:")]
    url = line.split()[1]
    front = ("porchlight_camera_fps", (("camera", "front"),))
    samples = _wait(url, lambda s: s.get(front, 0) > 0)
    assert samples[("porchlight_camera_up", (("camera", "back"),))] == 0
    assert samples[("porchlight_camera_up", (("camera", "front"),))] == 1
    text = httpx.get(url, timeout=10).text
    for secret in (CAM_PASSWORD, WRONG_PASSWORD, "installer", "rtsp://", str(camera.port)):
        assert secret not in text
    code, log = run.stop()
    assert code == 0, log
