"""probe() against GStreamer's RTSP server (real), and the failures a user can meet."""

from __future__ import annotations

import socket
import time

import pytest

from nvr.capture.probe import ProbeResult, probe
from nvr.errors import UserError
from tests.support.rtsp_server import RtspCamera


def test_summary_is_the_line_the_cli_prints() -> None:
    assert ProbeResult("h264", 1920, 1080, 15.0, None).summary() == "h264 1920x1080 @ 15 fps"
    assert ProbeResult("hevc", 640, 360, 29.97, "aac").summary() == "hevc 640x360 @ 29.97 fps"
    assert ProbeResult("h264", 640, 360, None, None).summary() == "h264 640x360 @ ? fps"


@pytest.mark.rtsp
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_live_mount(rtsp_camera: RtspCamera, transport: str) -> None:
    started = time.monotonic()
    result = probe(rtsp_camera.url("/live"), transport=transport)  # type: ignore[arg-type]
    assert result == ProbeResult("h264", 640, 360, 15.0, None)
    assert time.monotonic() - started < 5


@pytest.mark.rtsp
@pytest.mark.parametrize(
    ("mount", "password"), [("/basic", "basic-pass"), ("/digest", "digest-pass")]
)
def test_right_credentials(rtsp_camera: RtspCamera, mount: str, password: str) -> None:
    result = probe(rtsp_camera.url(mount, "viewer", password))
    assert (result.codec, result.width, result.height) == ("h264", 640, 360)


@pytest.mark.rtsp
@pytest.mark.parametrize("mount", ["/basic", "/digest"])
def test_wrong_password_says_so_without_the_password(rtsp_camera: RtspCamera, mount: str) -> None:
    url = rtsp_camera.url(mount, "viewer", "Wr0ng-horse-staple")
    with pytest.raises(UserError) as caught:
        probe(url)
    text = f"{caught.value.message} {caught.value.hint}"
    assert "the camera rejected the username or password" in text
    assert "Wr0ng-horse-staple" not in text
    assert "viewer:***@" in text


@pytest.mark.rtsp
def test_missing_credentials_and_unknown_path(rtsp_camera: RtspCamera) -> None:
    with pytest.raises(UserError, match="rejected the username or password"):
        probe(rtsp_camera.url("/digest"))
    with pytest.raises(UserError, match="no stream at this path"):
        probe(rtsp_camera.url("/live").replace("/live", "/nope"))


def test_refused_port_and_unknown_host() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(UserError, match="connection refused") as caught:
            probe(f"rtsp://admin:Pa55word@127.0.0.1:{port}/live", timeout=3)
    assert "Pa55word" not in caught.value.message
    with pytest.raises(UserError, match="does not resolve"):
        probe("rtsp://camera.invalid/live", timeout=3)


def test_silent_server_times_out() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()  # accepts the TCP connection, never answers RTSP
        port = server.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(UserError, match="timed out"):
            probe(f"rtsp://127.0.0.1:{port}/live", timeout=1.5)
    assert time.monotonic() - started < 6
